// The audit routes' answers, as the OpenAPI contract names them (#/components/schemas/...).
import { t } from "elysia";
import { component, Nullable } from "../http/contract.ts";

const Jwk = t.Object(
  { kty: t.String(), crv: t.String(), x: t.String(), kid: t.String(), alg: t.String(), use: t.String() },
  { description: "An Ed25519 public key (RFC 8037)" },
);
export const Jwks = component("Jwks", t.Object({ keys: t.Array(Jwk) }));
export const PublicKey = component("AuditPublicKey", t.Object({ key_id: t.String(), jwk: Jwk }));

export const AuditEntry = component(
  "AuditEntry",
  t.Object({
    id: t.String({ examples: ["aud_01jd0000000000000000000000"] }),
    seq: t.Number({ description: "Gapless per workspace: the chain's position" }),
    action: t.String({ examples: ["issue.created"] }),
    actor_id: Nullable(t.String()),
    actor_type: t.String(),
    target_type: Nullable(t.String()),
    target_id: Nullable(t.String()),
    before: t.Unknown(),
    after: t.Unknown(),
    trace_id: Nullable(t.String({ description: "The request id of the call that did it" })),
    ip: Nullable(t.String()),
    user_agent: Nullable(t.String()),
    created_at: t.String({ description: "To the microsecond, as hashed" }),
    hash: Nullable(t.String({ description: "SHA-256 over the previous row's hash and this row's content" })),
  }),
);
export const AuditPage = component(
  "AuditPage",
  t.Object({
    data: t.Array(AuditEntry),
    next_cursor: t.Union([t.String(), t.Null()], { description: "Pass as `cursor` for the next page" }),
  }),
);

export const AuditVerification = component(
  "AuditVerification",
  t.Object({
    ok: t.Boolean(),
    workspace_id: t.String(),
    rows: t.Integer(),
    first_seq: Nullable(t.Number()),
    last_seq: Nullable(t.Number()),
    checkpoints: t.Integer(),
    last_checkpoint_seq: Nullable(t.Number()),
    first_broken_seq: Nullable(t.Number()),
    reason: Nullable(t.String()),
  }),
);
