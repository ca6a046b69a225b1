// Exports as clients see them: a completed export carries a download link that expires, and the public
// download route opens the archive only through a valid signed link (no bearer token). The routes stay faces.
import type { Tx } from "../db/engine.ts";
import type { TenantDoor } from "../db/tenant.ts";
import { AppError } from "../errors.ts";
import { newId } from "../ids.ts";
import type { Page, PageQuery } from "../db/where.ts";
import { downloadableExport } from "./export-revocation.ts";
import type { ExportLinks } from "./export-links.ts";
import { exportStorageKey, getExport, listExports, type ExportView } from "./exports.ts";
import type { ArchiveStore } from "./storage.ts";

export interface ExportDeps {
  links: ExportLinks;
  /** Where archives are stored: the data dir's exports/ by default, or an S3 bucket. */
  store: ArchiveStore;
  /** The door by workspace id, for the public download route that authenticates by signature. */
  door: TenantDoor;
}

export type LinkedExport = ExportView & { download?: { url: string; expires_at: string } };

async function withLink(tx: Tx, store: ArchiveStore | undefined, ws: string, view: ExportView): Promise<LinkedExport> {
  if (view.status !== "completed" || !store) return view;
  const key = await exportStorageKey(tx, ws, view.id);
  return key ? { ...view, download: store.link(ws, view.id, key) } : view;
}

export async function listLinkedExports(
  tx: Tx,
  store: ArchiveStore | undefined,
  ws: string,
  query: PageQuery,
): Promise<Page<LinkedExport>> {
  const page = await listExports(tx, ws, query);
  return { ...page, data: await Promise.all(page.data.map((view) => withLink(tx, store, ws, view))) };
}

export async function getLinkedExport(
  tx: Tx,
  store: ArchiveStore | undefined,
  ws: string,
  id: string,
): Promise<LinkedExport> {
  return withLink(tx, store, ws, await getExport(tx, ws, id));
}

/** The archive behind a signed link, or 403 (bad or expired link) / 404 (not available any more). */
export async function openDownload(
  deps: ExportDeps,
  id: string,
  link: { ws: string; exp: string; sig: string },
): Promise<Response> {
  if (!deps.links.verify(link.ws, id, link.exp, link.sig))
    throw new AppError("forbidden", "the download link is invalid or has expired; ask for a new one");
  const { view, key } = await deps.door(link.ws, (tx) => downloadableExport(tx, link.ws, id));
  const file = key && deps.store.kind === "local" ? Bun.file(key) : undefined;
  if (view.status !== "completed" || !file || !(await file.exists()))
    throw new AppError("not_found", `export ${id} is not available`);
  // Who took a copy of the tenant's data is evidence: every download handed out is in the compliance log.
  await deps.door(link.ws, (tx) =>
    tx.query(
      "insert into compliance_log (workspace_id, id, kind, details) values ($1, $2, 'export.downloaded', $3::jsonb)",
      [link.ws, newId("cpl"), JSON.stringify({ export_id: id, sha256: view.sha256, link_expires_at: link.exp })],
    ),
  );
  return new Response(file, {
    headers: {
      "content-type": "application/gzip",
      "content-disposition": `attachment; filename="${id}.tar.gz"`,
      "x-content-sha256": view.sha256 ?? "",
    },
  });
}
