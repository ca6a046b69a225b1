// /v1/audit: the workspace's own audit trail (reading it is itself audited), its verification, and the
// public key that verifies checkpoints offline (also at /.well-known/jwks.json).
import { Elysia, t } from "elysia";
import type { authPlugin } from "../identity/auth.ts";
import { readAuditTrail, verifyWorkspace } from "./trail.ts";
import { responses } from "../http/contract.ts";
import { AuditPage, AuditVerification, Jwks, PublicKey } from "./schemas.ts";
import type { Signer } from "./signing.ts";
import type { TenantDoor } from "../db/tenant.ts";
import { streamAuditExport } from "./export.ts";

export function auditRoutes(auth: ReturnType<typeof authPlugin>, signer: Signer, door: TenantDoor) {
  return new Elysia({ name: "audit" })
    .get("/.well-known/jwks.json", () => ({ keys: [signer.publicJwk] }), {
      detail: {
        summary: "Public keys that verify audit checkpoints and erasure certificates",
        tags: ["audit"],
        responses: responses({ 200: Jwks }),
        security: [],
      },
    })
    .get("/v1/audit/public-key", () => ({ key_id: signer.keyId, jwk: signer.publicJwk }), {
      detail: {
        summary: "The audit signing public key (Ed25519, JWK)",
        tags: ["audit"],
        responses: responses({ 200: PublicKey }),
        security: [],
      },
    })
    .use(auth)
    .get("/v1/audit", ({ caller, query }) => caller.tenant((tx) => readAuditTrail(tx, caller.actor, query)), {
      scope: "audit:read",
      query: t.Object({
        action: t.Optional(t.String({ maxLength: 100 })),
        actor_id: t.Optional(t.String({ maxLength: 100 })),
        target_type: t.Optional(t.String({ maxLength: 100 })),
        target_id: t.Optional(t.String({ maxLength: 100 })),
        from: t.Optional(t.String({ maxLength: 40 })),
        to: t.Optional(t.String({ maxLength: 40 })),
        limit: t.Optional(t.Integer({ minimum: 1, maximum: 500 })),
        cursor: t.Optional(t.String({ maxLength: 20 })),
      }),
      detail: {
        summary: "The audit trail, newest first (keyset pagination); this read is itself audited",
        tags: ["audit"],
        responses: responses({ 200: AuditPage }),
      },
    })
    .get(
      "/v1/audit/export",
      async ({ caller }) =>
        new Response(await streamAuditExport(caller.tenant, door, signer, caller.actor), {
          headers: {
            "content-type": "application/x-ndjson",
            "content-disposition": `attachment; filename="audit-${caller.principal.workspaceId}.ndjson"`,
          },
        }),
      {
        scope: "audit:read",
        detail: {
          summary: "The whole audit trail with its hash links, signed checkpoints and public key, to verify offline",
          description:
            "NDJSON: a `key` line (the signing key as JWK), the `checkpoint` lines, then every `row` oldest first with `prev_hash` and `hash`. Verify it without trusting this server: `causeloop audit verify-export <file> --jwks <jwks.json fetched from /.well-known/jwks.json>`; the algorithm is in the README. The export itself is recorded in the trail (`audit.exported`).",
          tags: ["audit"],
          responses: responses({
            200: {
              description: "The trail as NDJSON, streamed",
              contentType: "application/x-ndjson",
              schema: t.String(),
            },
          }),
        },
      },
    )
    .get(
      "/v1/audit/verify",
      ({ caller }) => caller.tenant((tx) => verifyWorkspace(tx, caller.principal.workspaceId, signer)),
      {
        scope: "audit:read",
        detail: {
          summary: "Recompute this workspace's hash chain and check every signed checkpoint",
          tags: ["audit"],
          responses: responses({ 200: AuditVerification }),
        },
      },
    );
}
