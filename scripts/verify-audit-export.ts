#!/usr/bin/env bun
// Verifies an audit export offline with nothing but bun:  bun scripts/verify-audit-export.ts export.ndjson [jwks.json]
// Self-contained on purpose (an auditor needs only this file): it recomputes every row hash with the
// canonical encoding v1, checks the links and sequence, and verifies every checkpoint's Ed25519 signature
// with the public key from the export, or from a JWKS file fetched separately from /.well-known/jwks.json.
//   canonical = 'causeloop.audit.v1' + for each field: '\n' + ('-' if null else '<utf-8 byte length>:<value>')
//     fields: workspace_id id seq action actor_id actor_type target_type target_id before after trace_id ip user_agent created_at
//   hash = sha256_hex((prev_hash or '') + canonical)
//   checkpoint signature: Ed25519 over 'causeloop.audit.checkpoint.v1\n<workspace_id>\n<seq>\n<hash>\n<signed_at>'
// Exit 0 when the trail is intact, 1 with the first broken sequence number otherwise, 2 on bad input.
import { readFileSync } from "node:fs";

type Row = Record<string, string | number | null> & {
  seq: number;
  hash: string | null;
  prev_hash: string | null;
  workspace_id: string;
  id: string;
};
type Cp = { seq: number; hash: string; key_id: string; signature: string; signed_at: string };
type Jwk = { kty: string; crv: string; x: string; kid?: string };

const [file, jwksFile] = process.argv.slice(2);
if (!file) {
  console.error("usage: bun scripts/verify-audit-export.ts <export.ndjson> [jwks.json]");
  process.exit(2);
}
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

let workspace = "";
let keys: Jwk[] = [];
const rows: Row[] = [];
const checkpoints: Cp[] = [];
try {
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const item = JSON.parse(line);
    if (item.type === "key") {
      workspace = item.workspace_id;
      keys.push(item.jwk);
    } else if (item.type === "checkpoint") checkpoints.push(item);
    else if (item.type === "row") rows.push(item);
  }
  if (jwksFile) keys = (JSON.parse(readFileSync(jwksFile, "utf8")) as { keys: Jwk[] }).keys;
} catch (error) {
  console.error(`cannot read the export: ${(error as Error).message}`);
  process.exit(2);
}

function broken(seq: number, reason: string): never {
  console.log(JSON.stringify({ ok: false, workspace_id: workspace, first_broken_seq: seq, reason }));
  process.exit(1);
}

const hashAt = new Map<number, string>();
let prev: Row | undefined;
for (const row of rows) {
  if (row.workspace_id !== workspace) broken(row.seq, `row ${row.id} belongs to another workspace`);
  if (prev && row.seq !== prev.seq + 1)
    broken(
      prev.seq + 1,
      row.seq > prev.seq + 1 ? `row ${prev.seq + 1} is missing` : `row ${row.seq} is out of order or duplicated`,
    );
  if (!prev && row.seq === 1 && row.prev_hash !== null) broken(row.seq, "the first row must have no previous hash");
  if (prev && row.prev_hash !== prev.hash) broken(row.seq, "previous-hash link does not match the row before it");
  const canonical = ["causeloop.audit.v1", ...FIELDS.map((f) => field(row[f] as string | number | null))].join("\n");
  if (sha256((row.prev_hash ?? "") + canonical) !== row.hash)
    broken(row.seq, "row content does not match its hash (altered)");
  hashAt.set(row.seq, row.hash as string);
  prev = row;
}
const first = rows[0];
for (const cp of checkpoints.sort((a, b) => a.seq - b.seq)) {
  const jwk = keys.find((k) => !k.kid || k.kid === cp.key_id);
  if (!jwk) broken(cp.seq, `no public key ${cp.key_id} to check the checkpoint at seq ${cp.seq}`);
  const key = await crypto.subtle.importKey(
    "jwk",
    { kty: "OKP", crv: "Ed25519", x: jwk.x },
    { name: "Ed25519" },
    false,
    ["verify"],
  );
  const payload = `causeloop.audit.checkpoint.v1\n${workspace}\n${cp.seq}\n${cp.hash}\n${cp.signed_at}`;
  if (
    !(await crypto.subtle.verify(
      { name: "Ed25519" },
      key,
      Buffer.from(cp.signature, "base64url"),
      new TextEncoder().encode(payload),
    ))
  )
    broken(cp.seq, `checkpoint at seq ${cp.seq} has an invalid signature`);
  if (prev && cp.seq > prev.seq)
    broken(prev.seq + 1, `rows after seq ${prev.seq} are missing (a signed checkpoint covers seq ${cp.seq})`);
  if (first && cp.seq === first.seq - 1 && cp.hash !== first.prev_hash)
    broken(first.seq, "the oldest row does not link to its signed checkpoint");
  if (hashAt.has(cp.seq) && hashAt.get(cp.seq) !== cp.hash)
    broken(cp.seq, `row ${cp.seq} differs from its signed checkpoint`);
}
if (first && first.seq > 1 && !checkpoints.some((cp) => cp.seq === first.seq - 1))
  broken(first.seq, `rows before seq ${first.seq} are gone and no signed checkpoint anchors the chain there`);
console.log(
  JSON.stringify({
    ok: true,
    workspace_id: workspace,
    rows: rows.length,
    checkpoints: checkpoints.length,
    last_seq: prev?.seq ?? null,
  }),
);
