// Download links for finished exports: an HMAC-signed URL the binary itself serves, valid for a short time
// (CAUSELOOP_EXPORT_LINK_MINUTES, 15 by default). The signature binds workspace, export and expiry.
import { createHmac, timingSafeEqual } from "node:crypto";
import { loadServerKey, type ServerKeySource } from "../secrets/server-keys.ts";

/** The links' own HMAC key (never the access-token secret): CAUSELOOP_EXPORT_LINK_KEY(_FILE), else export-link.key. */
export function loadExportLinkKey(source: ServerKeySource): Uint8Array {
  const secret = loadServerKey(source, "CAUSELOOP_EXPORT_LINK_KEY", "export-link.key", () =>
    Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url"),
  );
  return new TextEncoder().encode(secret);
}

export interface ExportLinks {
  path(workspaceId: string, exportId: string, now?: Date): { path: string; expires_at: string };
  verify(workspaceId: string, exportId: string, expires: string, signature: string, now?: Date): boolean;
}

export function exportLinks(secret: Uint8Array, minutes: number): ExportLinks {
  const sign = (ws: string, id: string, exp: string) =>
    createHmac("sha256", Buffer.from(secret)).update(`causeloop-export-link\n${ws}\n${id}\n${exp}`).digest("base64url");
  return {
    path(ws, id, now = new Date()) {
      const exp = String(Math.floor(now.getTime() / 1000) + minutes * 60);
      return {
        path: `/v1/exports/${id}/download?ws=${ws}&exp=${exp}&sig=${sign(ws, id, exp)}`,
        expires_at: new Date(Number(exp) * 1000).toISOString(),
      };
    },
    verify(ws, id, exp, signature, now = new Date()) {
      if (!/^\d{1,12}$/.test(exp) || Number(exp) * 1000 < now.getTime()) return false;
      const expected = Buffer.from(sign(ws, id, exp));
      const given = Buffer.from(signature);
      return expected.length === given.length && timingSafeEqual(expected, given);
    },
  };
}
