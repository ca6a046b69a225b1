// The SSO routes' answers, as the OpenAPI contract names them (#/components/schemas/...).
import { t } from "elysia";
import { component, Nullable, Page, Timestamp } from "../../http/contract.ts";

export const MappedRole = t.Union([t.Literal("admin"), t.Literal("analyst"), t.Literal("viewer")]);
export const RoleRule = t.Object(
  { group: t.String({ minLength: 1, maxLength: 500 }), role: MappedRole },
  { additionalProperties: false },
);

export const SsoConnection = component(
  "SsoConnection",
  t.Object({
    id: t.String({ examples: ["sso_01jd0000000000000000000000"] }),
    provider: t.String({ examples: ["oidc", "saml", "jwt"] }),
    display_name: t.String(),
    status: t.String({ examples: ["active", "disabled"] }),
    issuer: Nullable(t.String({ description: "OIDC issuer URL, or the SAML IdP's entity id" })),
    audience: Nullable(t.String()),
    jwks_url: Nullable(t.String()),
    client_id: Nullable(t.String()),
    has_client_secret: t.Boolean({ description: "The client secret is stored encrypted and never returned" }),
    client_secret_last4: Nullable(t.String()),
    metadata_url: Nullable(t.String({ description: "SAML: the IdP's metadata, fetched when the connection is saved" })),
    sso_url: Nullable(t.String({ description: "SAML: the IdP's single sign-on URL (HTTP-Redirect binding)" })),
    idp_certificate_fingerprint: Nullable(t.String({ description: "SAML: SHA-256 of the IdP's signing certificate" })),
    jit_provisioning: t.Boolean(),
    default_role: t.String(),
    groups_claim: t.String({ description: "The ID-token claim or SAML attribute listing the person's groups" }),
    role_mapping: t.Array(t.Object({ group: t.String(), role: t.String() }), {
      description: "Group -> role; the highest matching role wins, default_role when none matches",
    }),
    created_at: Timestamp,
    updated_at: Timestamp,
  }),
);
export const SsoConnectionPage = component("SsoConnectionPage", Page(SsoConnection));

export const SsoTestResult = component(
  "SsoTestResult",
  t.Object({
    ok: t.Boolean(),
    checks: t.Array(t.Object({ name: t.String(), ok: t.Boolean(), detail: Nullable(t.String()) })),
  }),
);

export const SsoPolicy = component(
  "SsoPolicy",
  t.Object({
    enforce_sso: t.Boolean({ description: "Members may not sign in with a password (break-glass owners excepted)" }),
    break_glass_user_ids: t.Array(t.String(), {
      description: "Owners who keep password sign-in while SSO is enforced",
    }),
  }),
);

export const SsoLinkStart = component(
  "SsoLinkStart",
  t.Object({ authorization_url: t.String({ description: "Open it in a browser; valid 10 minutes, once" }) }),
);
