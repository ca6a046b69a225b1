// Verifies an audit export (NDJSON lines {"type":"key"}, {"type":"checkpoint"}, {"type":"row"}) offline, with
// nothing from the server but the file and, for a customer who does not take the file's word for the key,
// the JWKS published at /.well-known/jwks.json. The algorithm, which anyone can re-implement:
//   canonical = 'causeloop.audit.v1' + for each field: '\n' + ('-' if null else '<utf-8 byte length>:<value>')
//     fields: workspace_id id seq action actor_id actor_type target_type target_id before after trace_id ip user_agent created_at
//   hash = sha256_hex((prev_hash or '') + canonical); each row's prev_hash is the hash of the row before it
//   checkpoint signature: Ed25519 over 'causeloop.audit.checkpoint.v1\n<workspace_id>\n<seq>\n<hash>\n<signed_at>'
//   anchors (optional): checkpoints the customer received outside the server (the audit.checkpoint webhook).
//     Each must carry a valid signature; one signed before the export was made must be covered by its rows
//     (a row at its seq with its hash): a tail truncated together with its checkpoint is caught there.
// Used by `causeloop audit verify-export` and scripts/verify-audit-export.ts.
import { verifyWithJwk } from "./signing.ts";

type Row = Record<string, string | number | null> & {
  seq: number;
  hash: string | null;
  prev_hash: string | null;
  workspace_id: string;
  id: string;
};
type Checkpoint = { seq: number; hash: string; key_id: string; signature: string; signed_at: string };
export type Jwk = { kty: string; crv: string; x: string; kid?: string };

/** A checkpoint received outside the server: an audit.checkpoint webhook's `data`, or the bare checkpoint. */
export type AnchorInput = Checkpoint & { workspace_id?: string };

export type ExportVerdict =
  | {
      ok: true;
      workspace_id: string;
      rows: number;
      checkpoints: number;
      last_seq: number | null;
      key_source: string;
      /** Anchors compared (signed before the export and of its workspace); null when none were given. */
      anchors_checked: number | null;
    }
  | { ok: false; workspace_id: string; first_broken_seq: number | null; reason: string };

const FIELDS = [
  "workspace_id",
  "id",
  "seq",
  "action",
  "actor_id",
  "actor_type",
  "target_type",
  "target_id",
  "before",
  "after",
  "trace_id",
  "ip",
  "user_agent",
  "created_at",
];
const field = (v: string | number | null) => (v === null ? "-" : `${Buffer.byteLength(String(v), "utf8")}:${v}`);
const sha256 = (s: string) => new Bun.CryptoHasher("sha256").update(s).digest("hex");

class Broken extends Error {
  constructor(
    readonly seq: number | null,
    reason: string,
  ) {
    super(reason);
  }
}

/**
 * The verdict on an export's text. With `jwks` (the keys the customer fetched themselves) the key line in the
 * file is ignored: a server that rewrote history and re-signed with a key of its own is caught.
 */
export async function verifyAuditExport(
  text: string,
  jwks?: { keys: Jwk[] },
  anchors?: AnchorInput[],
): Promise<ExportVerdict> {
  let workspace = "";
  let exportedAt: string | undefined;
  const embedded: Jwk[] = [];
  const rows: Row[] = [];
  const checkpoints: Checkpoint[] = [];
  for (const [index, line] of text.split("\n").entries()) {
    if (!line.trim()) continue;
    let item: { type?: string; workspace_id?: string; jwk?: Jwk; exported_at?: string };
    try {
      item = JSON.parse(line);
    } catch {
      return { ok: false, workspace_id: workspace, first_broken_seq: null, reason: `line ${index + 1} is not JSON` };
    }
    if (item.type === "key") {
      workspace = item.workspace_id ?? "";
      exportedAt = item.exported_at;
      if (item.jwk) embedded.push(item.jwk);
    } else if (item.type === "checkpoint") checkpoints.push(item as unknown as Checkpoint);
    else if (item.type === "row") rows.push(item as unknown as Row);
  }
  const keys = jwks?.keys ?? embedded;
  try {
    const hashAt = new Map<number, string>();
    let prev: Row | undefined;
    for (const row of rows) {
      if (row.workspace_id !== workspace) throw new Broken(row.seq, `row ${row.id} belongs to another workspace`);
      if (prev && row.seq !== prev.seq + 1)
        throw new Broken(
          prev.seq + 1,
          row.seq > prev.seq + 1 ? `row ${prev.seq + 1} is missing` : `row ${row.seq} is out of order or duplicated`,
        );
      if (!prev && row.seq === 1 && row.prev_hash !== null)
        throw new Broken(row.seq, "the first row must have no previous hash");
      if (prev && row.prev_hash !== prev.hash)
        throw new Broken(row.seq, "previous-hash link does not match the row before it");
      const canonical = ["causeloop.audit.v1", ...FIELDS.map((f) => field(row[f] as string | number | null))].join(
        "\n",
      );
      if (sha256((row.prev_hash ?? "") + canonical) !== row.hash)
        throw new Broken(row.seq, "row content does not match its hash (altered)");
      hashAt.set(row.seq, row.hash as string);
      prev = row;
    }
    const first = rows[0];
    for (const cp of checkpoints.sort((a, b) => a.seq - b.seq)) {
      const jwk = keys.find((k) => !k.kid || k.kid === cp.key_id);
      if (!jwk) throw new Broken(cp.seq, `no public key ${cp.key_id} to check the checkpoint at seq ${cp.seq}`);
      const payload = `causeloop.audit.checkpoint.v1\n${workspace}\n${cp.seq}\n${cp.hash}\n${cp.signed_at}`;
      const valid = await verifyWithJwk(jwk, payload, cp.signature);
      if (!valid) throw new Broken(cp.seq, `checkpoint at seq ${cp.seq} has an invalid signature`);
      if (prev && cp.seq > prev.seq)
        throw new Broken(
          prev.seq + 1,
          `rows after seq ${prev.seq} are missing (a signed checkpoint covers seq ${cp.seq})`,
        );
      if (first && cp.seq === first.seq - 1 && cp.hash !== first.prev_hash)
        throw new Broken(first.seq, "the oldest row does not link to its signed checkpoint");
      if (hashAt.has(cp.seq) && hashAt.get(cp.seq) !== cp.hash)
        throw new Broken(cp.seq, `row ${cp.seq} differs from its signed checkpoint`);
    }
    if (first && first.seq > 1 && !checkpoints.some((cp) => cp.seq === first.seq - 1))
      throw new Broken(
        first.seq,
        `rows before seq ${first.seq} are gone and no signed checkpoint anchors the chain there`,
      );
    let anchorsChecked: number | null = null;
    if (anchors) {
      anchorsChecked = 0;
      const mine = anchors.filter((a) => (a.workspace_id ?? workspace) === workspace).sort((a, b) => a.seq - b.seq);
      for (const anchor of mine) {
        // A checkpoint signed after the export was made covers rows the export cannot hold.
        if (exportedAt && Date.parse(anchor.signed_at) > Date.parse(exportedAt)) continue;
        const jwk = keys.find((k) => !k.kid || k.kid === anchor.key_id);
        const payload = `causeloop.audit.checkpoint.v1\n${workspace}\n${anchor.seq}\n${anchor.hash}\n${anchor.signed_at}`;
        if (!jwk || !(await verifyWithJwk(jwk, payload, anchor.signature)))
          throw new Broken(anchor.seq, `the anchored checkpoint at seq ${anchor.seq} does not carry a valid signature`);
        if (!prev || anchor.seq > prev.seq)
          throw new Broken(
            (prev?.seq ?? 0) + 1,
            `rows after seq ${prev?.seq ?? 0} are missing: a checkpoint anchored outside the server (signed ${anchor.signed_at}) covers seq ${anchor.seq}`,
          );
        if (hashAt.has(anchor.seq) && hashAt.get(anchor.seq) !== anchor.hash)
          throw new Broken(anchor.seq, `row ${anchor.seq} differs from the checkpoint anchored outside the server`);
        anchorsChecked++;
      }
    }
    return {
      ok: true,
      workspace_id: workspace,
      rows: rows.length,
      checkpoints: checkpoints.length,
      last_seq: prev?.seq ?? null,
      key_source: jwks ? "the JWKS given" : "the key in the export",
      anchors_checked: anchorsChecked,
    };
  } catch (error) {
    if (!(error instanceof Broken)) throw error;
    return { ok: false, workspace_id: workspace, first_broken_seq: error.seq, reason: error.message };
  }
}

/**
 * Anchors as a customer's receiver kept them: NDJSON or a JSON array of audit.checkpoint webhook bodies
 * ({type, data}) or bare checkpoints. Throws naming the first entry that is neither.
 */
export function parseAnchors(text: string): AnchorInput[] {
  const trimmed = text.trim();
  let items: unknown[];
  try {
    items = trimmed.startsWith("[")
      ? (JSON.parse(trimmed) as unknown[])
      : trimmed
          .split("\n")
          .filter((line) => line.trim())
          .map((line) => JSON.parse(line) as unknown);
  } catch {
    throw new Error("the anchors are neither NDJSON nor a JSON array");
  }
  return items.map((item, index) => {
    const body = item as { type?: string; data?: unknown };
    const candidate = (body.type === "audit.checkpoint" ? body.data : item) as Record<string, unknown> | null;
    if (
      !candidate ||
      typeof candidate.seq !== "number" ||
      typeof candidate.hash !== "string" ||
      typeof candidate.key_id !== "string" ||
      typeof candidate.signature !== "string" ||
      typeof candidate.signed_at !== "string"
    )
      throw new Error(`anchor ${index + 1} is not an audit checkpoint (seq, hash, key_id, signature, signed_at)`);
    return candidate as unknown as AnchorInput;
  });
}
