#!/usr/bin/env bun
// Verifies an audit export offline:  bun scripts/verify-audit-export.ts export.ndjson [jwks.json]
// (the same check as `causeloop audit verify-export`; the algorithm is written out in
// src/audit/verify-export.ts). Prints the verdict as JSON. Exit 0 when the trail is intact, 1 with the first
// broken sequence number otherwise, 2 on bad input.
import { readFileSync } from "node:fs";
import { verifyAuditExport, type Jwk } from "../src/audit/verify-export.ts";

const [file, jwksFile] = process.argv.slice(2);
if (!file) {
  console.error("usage: bun scripts/verify-audit-export.ts <export.ndjson> [jwks.json]");
  process.exit(2);
}
let text: string;
let jwks: { keys: Jwk[] } | undefined;
try {
  text = readFileSync(file, "utf8");
  if (jwksFile) jwks = JSON.parse(readFileSync(jwksFile, "utf8")) as { keys: Jwk[] };
} catch (error) {
  console.error(`cannot read the export: ${(error as Error).message}`);
  process.exit(2);
}
const verdict = await verifyAuditExport(text, jwks);
console.log(JSON.stringify(verdict));
process.exit(verdict.ok ? 0 : 1);
