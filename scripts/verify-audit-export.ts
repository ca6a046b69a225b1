#!/usr/bin/env bun
// Verifies an audit export offline:  bun scripts/verify-audit-export.ts export.ndjson [jwks.json [anchors.ndjson]]
// (the same check as `causeloop audit verify-export`; the algorithm is written out in
// src/audit/verify-export.ts). Prints the verdict as JSON. Exit 0 when the trail is intact, 1 with the first
// broken sequence number otherwise, 2 on bad input.
import { readFileSync } from "node:fs";
import { parseAnchors, verifyAuditExport, type AnchorInput, type Jwk } from "../src/audit/verify-export.ts";

const [file, jwksFile, anchorsFile] = process.argv.slice(2);
if (!file) {
  console.error("usage: bun scripts/verify-audit-export.ts <export.ndjson> [jwks.json [anchors.ndjson]]");
  process.exit(2);
}
let text: string;
let jwks: { keys: Jwk[] } | undefined;
let anchors: AnchorInput[] | undefined;
try {
  text = readFileSync(file, "utf8");
  if (jwksFile) jwks = JSON.parse(readFileSync(jwksFile, "utf8")) as { keys: Jwk[] };
  if (anchorsFile) anchors = parseAnchors(readFileSync(anchorsFile, "utf8"));
} catch (error) {
  console.error(`cannot read the export: ${(error as Error).message}`);
  process.exit(2);
}
const verdict = await verifyAuditExport(text, jwks, anchors);
console.log(JSON.stringify(verdict));
process.exit(verdict.ok ? 0 : 1);
