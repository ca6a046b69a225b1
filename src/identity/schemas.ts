// The identity routes' answers, as the OpenAPI contract names them (#/components/schemas/...).
import { t } from "elysia";
import { component, Nullable, Page, Timestamp } from "../http/contract.ts";
import { ROLES } from "./permissions.ts";

const Role = t.Union(
  ROLES.map((r) => t.Literal(r)),
  { description: "owner > admin > analyst > viewer" },
);

export const Me = component(
  "Me",
  t.Object({
    actor: t.Object({
      id: t.String({ examples: ["usr_01jd0000000000000000000000"] }),
      type: t.Union([t.Literal("user"), t.Literal("service_account")]),
      email: t.Optional(Nullable(t.String())),
      display_name: t.Optional(Nullable(t.String())),
      mfa_enabled: t.Boolean(),
    }),
    workspace: t.Object({
      id: t.String(),
      slug: t.String(),
      name: t.String(),
      organization_id: t.String(),
      require_mfa: t.Boolean(),
    }),
    role: Role,
    scopes: t.Array(t.String(), { examples: [["issues:read", "issues:write"]] }),
    via: t.Union([t.Literal("pat"), t.Literal("session")]),
    mfa_enrolment_required: t.Optional(t.Boolean()),
  }),
);

export const WorkspaceSecurity = component(
  "WorkspaceSecurity",
  t.Object({ require_mfa: t.Boolean({ description: "Every member must sign in with a second factor" }) }),
);

export const Member = component(
  "Member",
  t.Object({
    id: t.String({ examples: ["mem_01jd0000000000000000000000"] }),
    user_id: t.String(),
    email: t.String({ format: "email" }),
    display_name: Nullable(t.String()),
    role: Role,
    status: t.Union([t.Literal("invited"), t.Literal("active"), t.Literal("removed")]),
    created_at: Timestamp,
  }),
);
export const MemberPage = component("MemberPage", Page(Member));

export const Invitation = component(
  "Invitation",
  t.Object({
    member_id: t.String(),
    invite_token: t.String({ description: "Shown once: send it to the invitee (POST /v1/auth/accept-invite)" }),
    expires_at: Timestamp,
  }),
);

export const Token = component(
  "Token",
  t.Object({
    id: t.String({ examples: ["pat_01jd0000000000000000000000"] }),
    name: t.String(),
    prefix: t.String({ description: "The token's first characters, to recognise it" }),
    role: Role,
    scopes: t.Array(t.String()),
    created_at: Timestamp,
    last_used_at: Nullable(Timestamp),
    expires_at: Nullable(Timestamp),
    revoked_at: Nullable(Timestamp),
    service_account_id: Nullable(t.String()),
  }),
);
export const TokenPage = component("TokenPage", Page(Token));
export const CreatedToken = component(
  "CreatedToken",
  t.Composite([Token, t.Object({ token: t.String({ description: "The secret, shown once" }) })]),
);

export const RotatedToken = component(
  "RotatedToken",
  t.Composite([
    CreatedToken,
    t.Object({
      previous_expires_at: t.String({ format: "date-time", description: "When the old secret stops working" }),
    }),
  ]),
);

export const ServiceAccount = component(
  "ServiceAccount",
  t.Object({ id: t.String(), name: t.String(), role: Role, created_at: t.Optional(Timestamp) }),
);
export const ServiceAccountPage = component("ServiceAccountPage", Page(ServiceAccount));

export const Session = component(
  "Session",
  t.Object({
    access_token: t.String({ description: "A short-lived JWT: Authorization: Bearer <access_token>" }),
    token_type: t.Literal("Bearer"),
    expires_in: t.Integer({ description: "Seconds" }),
    refresh_token: t.String({ description: "Rotates on every POST /v1/auth/refresh" }),
    workspace_id: t.String(),
    role: Role,
  }),
);
export const MfaChallenge = component(
  "MfaChallenge",
  t.Object({
    mfa_required: t.Literal(true),
    mfa_token: t.String({ description: "Send it with a code to POST /v1/auth/mfa/verify" }),
  }),
);
export const AcceptedInvitation = component(
  "AcceptedInvitation",
  t.Object({ workspace_id: t.String(), user_id: t.String() }),
);
export const TotpEnrolment = component(
  "TotpEnrolment",
  t.Object({
    otpauth_uri: t.String({ description: "For the authenticator app's QR code" }),
    secret: t.String({ description: "Base32, shown once" }),
  }),
);
export const RecoveryCodes = component(
  "RecoveryCodes",
  t.Object({ recovery_codes: t.Array(t.String(), { description: "One-time codes, shown once" }) }),
);
export const LinkedIdentity = component(
  "LinkedIdentity",
  t.Object({ id: t.String(), connection_id: t.String(), issuer: t.String(), subject: t.String() }),
);

export const AccessReviewLine = component(
  "AccessReviewLine",
  t.Object({
    id: t.String({ examples: ["ari_01jd0000000000000000000000"] }),
    kind: t.Union(
      ["member", "token", "service_account", "sso_connection", "scim_token"].map((k) => t.Literal(k)),
      { description: "What the line grants access through" },
    ),
    target_id: t.String({ description: "The membership, token, service account, connection or SCIM token" }),
    details: t.Record(t.String(), t.Unknown(), {
      description:
        "What the reviewer decides on: role, scopes, last sign-in or use, MFA, age (a member's current email)",
    }),
    decision: Nullable(t.Union([t.Literal("keep"), t.Literal("revoke")])),
    decided_by: Nullable(t.String()),
    decided_at: Nullable(Timestamp),
    applied_at: Nullable(Timestamp),
  }),
);

export const AccessReview = component(
  "AccessReview",
  t.Object({
    id: t.String({ examples: ["arv_01jd0000000000000000000000"] }),
    status: t.Union([t.Literal("open"), t.Literal("completed")]),
    created_by: Nullable(t.String()),
    created_at: Timestamp,
    completed_by: Nullable(t.String()),
    completed_at: Nullable(Timestamp),
    signature: Nullable(t.String({ description: "The signed result (JWS, EdDSA, the audit key), once completed" })),
    key_id: Nullable(t.String()),
    lines: t.Optional(t.Array(AccessReviewLine)),
  }),
);
export const AccessReviewPage = component("AccessReviewPage", Page(AccessReview));

export const SignedAccessReview = component(
  "SignedAccessReview",
  t.Object({
    review_id: t.String(),
    key_id: t.String({ description: "The audit key's id (/.well-known/jwks.json)" }),
    signature: t.String({ description: "A compact JWS (EdDSA) whose payload is `result`" }),
    result: t.Record(t.String(), t.Unknown()),
  }),
);
