// Tenant data export (003 "Tenant data export", made real): a queued job streams every exported table in
// keyset batches (constant memory) to NDJSON files, writes a manifest with row counts and sha256 of each
// file, packs them into one .tar.gz in storage, and records size and sha256. Secrets are never exported:
// each table has an explicit column list, and no *_encrypted or hash column is on any of them.
import type { Static } from "elysia";
import type { Export } from "./schemas.ts";
import { idKeyset, idPage, type Page, type PageQuery } from "../db/where.ts";
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGzip } from "node:zlib";
import type { Engine, Tx } from "../db/engine.ts";
import { withTenant } from "../db/tenant.ts";
import { AppError } from "../errors.ts";
import { newId } from "../ids.ts";
import { appendAudit } from "../audit/service.ts";
import type { Actor } from "../audit/service.ts";
import { enqueue } from "../jobs/queue.ts";
import type { ArchiveStore } from "./storage.ts";

/** Table, its exported columns (003's lists, extended with the rest of the workspace's business data). */
export const EXPORT_TABLES: { name: string; sql: string }[] = [
  {
    name: "issues",
    sql: "select id, title, body, status, severity, source, reporter_email, created_by, created_at, updated_at, resolved_at from issues where workspace_id = $1 and deleted_at is null",
  },
  {
    name: "patterns",
    sql: "select id, name, description, status, risk_score, created_at from patterns where workspace_id = $1 and deleted_at is null",
  },
  {
    name: "predictions",
    sql: "select id, pattern_id, issue_id, probability, horizon_hours, explanation, created_at from predictions where workspace_id = $1 and deleted_at is null",
  },
  {
    name: "recommendations",
    sql: "select id, issue_id, pattern_id, title, body, status, created_at from recommendations where workspace_id = $1 and deleted_at is null",
  },
  {
    name: "clusters",
    sql: "select id, label, algorithm, issue_ids, created_at from clusters where workspace_id = $1 and deleted_at is null",
  },
  {
    name: "activity_events",
    sql: "select id, issue_id, actor_id, actor_type, kind, payload, created_at from activity_events where workspace_id = $1",
  },
  {
    name: "ingested_events",
    sql: "select id, inbound_webhook_id, source, vendor_event_id, fingerprint, title, message, service, environment, severity, status, occurred_at, link, issue_id, created_at from ingested_events where workspace_id = $1",
  },
  {
    name: "connectors",
    sql: "select id, type, display_name, status, created_at from connectors where workspace_id = $1 and deleted_at is null",
  },
  {
    name: "webhooks",
    sql: "select id, url, events, status, created_at from webhooks where workspace_id = $1 and deleted_at is null",
  },
  {
    name: "members",
    sql: "select m.id, m.user_id, u.email, u.display_name, m.role, m.status, m.created_at from memberships m join users u on u.id = m.user_id where m.workspace_id = $1",
  },
  {
    name: "settings",
    sql: "select id, issue_retention_days, activity_retention_days, prediction_retention_days, audit_log_retention_days, created_at from workspace_settings where workspace_id = $1",
  },
  {
    name: "audit_log",
    sql: "select id, seq, action, actor_id, target_type, target_id, created_at, trace_id from audit_log where workspace_id = $1",
  },
];

/** An export as the API answers it, before its download link (the contract's schema is the one definition). */
export type ExportView = Omit<Static<typeof Export>, "download">;

const iso = (v: unknown) => (v ? new Date(v as string).toISOString() : null);
const VIEW =
  "id, status, format, size_bytes::float8 as size_bytes, sha256, manifest, error, created_at, completed_at, expires_at, revoked_at, revoked_reason, storage_kind, storage_key";

function toView(row: Record<string, unknown>): ExportView {
  const { storage_key: _key, ...rest } = row;
  return {
    ...(rest as unknown as ExportView),
    created_at: iso(row.created_at) as string,
    completed_at: iso(row.completed_at),
    expires_at: iso(row.expires_at),
    revoked_at: iso(row.revoked_at),
  };
}

/** The storage key of a completed export (never shown to clients). */
export async function exportStorageKey(tx: Tx, workspaceId: string, id: string): Promise<string | null> {
  const [row] = await tx.query<{ storage_key: string | null }>(
    "select storage_key from export_jobs where workspace_id = $1 and id = $2 and status = 'completed'",
    [workspaceId, id],
  );
  return row?.storage_key ?? null;
}

export async function requestExport(tx: Tx, actor: Actor, format: "ndjson" = "ndjson"): Promise<ExportView> {
  const id = newId("exp");
  const [row] = await tx.query<Record<string, unknown>>(
    `insert into export_jobs (workspace_id, id, format, requested_by) values ($1, $2, $3, $4) returning ${VIEW}`,
    [actor.workspaceId, id, format, actor.actorId],
  );
  await enqueue(tx, actor.workspaceId, "export.build", { export_id: id });
  await tx.query(
    "insert into compliance_log (workspace_id, id, kind, actor_id, details) values ($1, $2, 'export.created', $3, $4::jsonb)",
    [actor.workspaceId, newId("cpl"), actor.actorId, JSON.stringify({ export_id: id })],
  );
  await appendAudit(tx, {
    workspaceId: actor.workspaceId,
    action: "export.requested",
    actorId: actor.actorId,
    actorType: actor.actorType,
    targetType: "export",
    targetId: id,
    after: { format },
    context: actor.context,
  });
  return toView(row as Record<string, unknown>);
}

/** Exports, newest first. */
export async function listExports(tx: Tx, workspaceId: string, query: PageQuery = {}): Promise<Page<ExportView>> {
  const { limit, after } = idKeyset(query);
  const rows = await tx.query<Record<string, unknown>>(
    `select ${VIEW} from export_jobs where workspace_id = $1 and ($2::text is null or id < $2) order by id desc limit $3`,
    [workspaceId, after, limit + 1],
  );
  return idPage(rows.map(toView), limit);
}

export async function getExport(tx: Tx, workspaceId: string, id: string): Promise<ExportView> {
  const [row] = await tx.query<Record<string, unknown>>(
    `select ${VIEW} from export_jobs where workspace_id = $1 and id = $2`,
    [workspaceId, id],
  );
  if (!row) throw new AppError("not_found", `export ${id} not found`);
  return toView(row);
}

function tarHeader(name: string, size: number): Buffer {
  const header = Buffer.alloc(512);
  const put = (text: string, offset: number, length: number) => header.write(text, offset, length, "utf8");
  put(name, 0, 100);
  put("0000644\0", 100, 8);
  put("0000000\0", 108, 8);
  put("0000000\0", 116, 8);
  put(`${size.toString(8).padStart(11, "0")}\0`, 124, 12);
  put(
    `${Math.floor(Date.now() / 1000)
      .toString(8)
      .padStart(11, "0")}\0`,
    136,
    12,
  );
  put("        ", 148, 8);
  put("0", 156, 1);
  put("ustar\0", 257, 6);
  put("00", 263, 2);
  let sum = 0;
  for (const byte of header) sum += byte;
  put(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8);
  return header;
}

function writeChunk(stream: NodeJS.WritableStream, chunk: Buffer | string): Promise<void> {
  return new Promise((resolve) => {
    if (stream.write(chunk)) resolve();
    else stream.once("drain", () => resolve());
  });
}

export interface BuildOptions {
  batch?: number;
  linkExpiryDays?: number;
  /** Test seam: runs after each table is written (an erasure can commit here, as it could in production). */
  afterTable?: (table: string) => Promise<void>;
}

/**
 * The export job: streams every table to NDJSON, then one tar.gz with a manifest. Safe to re-run.
 * Each page is read in its own transaction, so an erasure committing mid-build would leave the erased
 * person in the tables read before it: the build completes only if the export's erasure_epoch (bumped by
 * every erasure under a row lock) is still the one it started with, else it discards the archive and
 * builds again from data read after the erasure.
 */
export async function buildExport(
  engine: Engine,
  workspaceId: string,
  exportId: string,
  store: ArchiveStore,
  options: BuildOptions = {},
): Promise<{ size_bytes: number; sha256: string; rebuilt: number }> {
  for (let rebuilt = 0; rebuilt < 3; rebuilt++) {
    const built = await buildOnce(engine, workspaceId, exportId, store, options);
    if (built) return { ...built, rebuilt };
  }
  throw new Error("erasures kept invalidating this export while it was built; it will be retried");
}

async function buildOnce(
  engine: Engine,
  workspaceId: string,
  exportId: string,
  store: ArchiveStore,
  options: BuildOptions,
): Promise<{ size_bytes: number; sha256: string } | undefined> {
  const batch = options.batch ?? 1000;
  const [started] = await withTenant(engine, workspaceId, (tx) =>
    tx.query<{ erasure_epoch: number }>(
      "update export_jobs set status = 'running', started_at = coalesce(started_at, now()) where workspace_id = $1 and id = $2 returning erasure_epoch",
      [workspaceId, exportId],
    ),
  );
  if (!started) throw new AppError("not_found", `export ${exportId} not found`);
  const epoch = started.erasure_epoch;
  const current = async () =>
    (
      await withTenant(engine, workspaceId, (tx) =>
        tx.query<{ erasure_epoch: number }>(
          "select erasure_epoch from export_jobs where workspace_id = $1 and id = $2",
          [workspaceId, exportId],
        ),
      )
    )[0]?.erasure_epoch === epoch;
  const work = mkdtempSync(join(tmpdir(), "causeloop-export-"));
  try {
    const files: { name: string; file: string; rows: number; bytes: number; sha256: string }[] = [];
    for (const table of EXPORT_TABLES) {
      const file = join(work, `${table.name}.ndjson`);
      const out = createWriteStream(file);
      const hash = new Bun.CryptoHasher("sha256");
      let rows = 0;
      let bytes = 0;
      let after = "";
      for (;;) {
        const page = await withTenant(engine, workspaceId, (tx) =>
          tx.query<Record<string, unknown>>(
            `select * from (${table.sql}) t where t.id > $2 order by t.id limit ${batch}`,
            [workspaceId, after],
          ),
        );
        for (const row of page) {
          const line = `${JSON.stringify(row)}\n`;
          hash.update(line);
          bytes += Buffer.byteLength(line);
          await writeChunk(out, line);
        }
        rows += page.length;
        if (page.length < batch) break;
        after = String((page.at(-1) as { id: string }).id);
      }
      await new Promise<void>((resolve, reject) =>
        out.end((error?: Error | null) => (error ? reject(error) : resolve())),
      );
      files.push({ name: table.name, file: `${table.name}.ndjson`, rows, bytes, sha256: hash.digest("hex") });
      await options.afterTable?.(table.name);
    }
    const manifest = {
      format: "causeloop-export-v1",
      export_id: exportId,
      workspace_id: workspaceId,
      created_at: new Date().toISOString(),
      tables: files.map(({ name, file, rows, bytes, sha256 }) => ({ name, file, rows, bytes, sha256 })),
    };
    const partial = join(work, `${exportId}.tar.gz`);
    const gzip = createGzip();
    const sink = createWriteStream(partial, { mode: 0o600 });
    const archiveHash = new Bun.CryptoHasher("sha256");
    gzip.on("data", (chunk: Buffer) => archiveHash.update(chunk));
    gzip.pipe(sink);
    const entries = [
      { name: "manifest.json", path: undefined as string | undefined, body: `${JSON.stringify(manifest, null, 2)}\n` },
      ...files.map((f) => ({ name: f.file, path: join(work, f.file), body: undefined as string | undefined })),
    ];
    for (const entry of entries) {
      const size = entry.path ? statSync(entry.path).size : Buffer.byteLength(entry.body as string);
      await writeChunk(gzip, tarHeader(entry.name, size));
      if (entry.path) for await (const chunk of createReadStream(entry.path)) await writeChunk(gzip, chunk as Buffer);
      else await writeChunk(gzip, entry.body as string);
      const pad = (512 - (size % 512)) % 512;
      if (pad) await writeChunk(gzip, Buffer.alloc(pad));
    }
    await writeChunk(gzip, Buffer.alloc(1024));
    await new Promise<void>((resolve, reject) => {
      sink.on("finish", () => resolve());
      sink.on("error", reject);
      gzip.end();
    });
    const size = statSync(partial).size;
    const sha256 = archiveHash.digest("hex");
    if (!(await current())) return undefined; // an erasure committed while the tables were read
    const key = await store.put(partial, workspaceId, exportId);
    const completed = await withTenant(engine, workspaceId, async (tx) => {
      // The epoch in the WHERE clause: an erasure holding the row waits us out, then the row no longer matches.
      const [row] = await tx.query(
        `update export_jobs set status = 'completed', size_bytes = $3, sha256 = $4, manifest = $5::jsonb, storage_key = $6, file_name = $7, completed_at = now(),
                expires_at = now() + make_interval(days => $8), storage_kind = $9 where workspace_id = $1 and id = $2 and erasure_epoch = $10 returning id`,
        [
          workspaceId,
          exportId,
          size,
          sha256,
          JSON.stringify(manifest),
          key,
          `${exportId}.tar.gz`,
          options.linkExpiryDays ?? 7,
          store.kind,
          epoch,
        ],
      );
      if (!row) return false;
      await tx.query(
        "insert into compliance_log (workspace_id, id, kind, details) values ($1, $2, 'export.completed', $3::jsonb)",
        [
          workspaceId,
          newId("cpl"),
          JSON.stringify({
            export_id: exportId,
            size_bytes: size,
            sha256,
            tables: files.map((f) => ({ name: f.name, rows: f.rows })),
          }),
        ],
      );
      return true;
    });
    if (!completed) {
      await store.remove(key);
      return undefined;
    }
    return { size_bytes: size, sha256 };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Deletes archives past their expiry (a scheduled job). */
export async function expireExports(engine: Engine, store: ArchiveStore): Promise<{ expired: number }> {
  let expired = 0;
  for (const { id: ws } of await engine.query<{ id: string }>("select active_workspace_ids() as id")) {
    const rows = await withTenant(engine, ws, (tx) =>
      tx.query<{ id: string; storage_key: string | null }>(
        "update export_jobs set status = 'expired' where workspace_id = $1 and status = 'completed' and expires_at < now() returning id, storage_key",
        [ws],
      ),
    );
    for (const row of rows) {
      if (row.storage_key) await store.remove(row.storage_key);
      expired++;
    }
  }
  return { expired };
}
