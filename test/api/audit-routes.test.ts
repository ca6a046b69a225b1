// Every mutating route writes exactly its audit row in the same transaction, and the audit API lists,
// filters, paginates and verifies the trail (reading it being audited too).
import { newId } from "../../src/ids.ts";
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { HttpApp } from "../../src/http/app.ts";
import { outboundPolicy } from "../../src/net/policy.ts";
import { onboard, type OnboardResult } from "../../src/tenancy/service.ts";
import { LocalKeyRing } from "../../src/secrets/keyring.ts";
import { newPat } from "../../src/identity/tokens.ts";
import { approve, importHmacKey } from "../../src/governance/rtbf.ts";
import * as OTPAuth from "otpauth";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { apiDeps } from "../helpers/app.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";
import { testSigner } from "../helpers/signer.ts";
import { testExportStore } from "../helpers/exports.ts";
import { causeloopSignature } from "../../src/ingestion/signatures.ts";
import { ingestEvent, recurringProblem } from "../helpers/intelligence.ts";
import { withTenant } from "../../src/db/tenant.ts";
import { refreshInsights } from "../../src/intelligence/insights.ts";
import { loadContract, type Contract } from "../helpers/contract.ts";
import { IDP_ENTITY_ID, IDP_SSO_URL, startSamlIdp } from "../helpers/saml-idp.ts";
import { customerDatabase, type CustomerDb, type HubServer, runRelay, serveWithHub } from "../helpers/relay.ts";
import { createRelayToken } from "../../src/relay/tokens.ts";

const archives = testExportStore();

interface Ctx {
  ids: Record<string, string>;
  /** Submits an erasure request outside the checked call (so approve's own rows can be told apart). */
  submit: (email: string) => Promise<string>;
  idToken: (email: string) => Promise<string>;
  /** An open security alert, written directly (no audit row of its own). */
  openAlert: () => Promise<string>;
  /** A recurring problem and another one, with the pattern and recommendation found (no audit row of their own). */
  insights: () => Promise<Record<string, string>>;
  /** A dead-lettered delivery of the webhook, written directly (no audit row of its own). */
  deadDelivery: (webhookId: string) => Promise<string>;
  adminToken: string;
  userId: string;
  /** A signed SAML response from the test IdP for the workspace's SAML connection (c.ids.saml). */
  samlResponse: (nameId: string, email: string) => Promise<string>;
}

interface Call {
  path: string;
  body?: unknown;
  token?: string;
  headers?: Record<string, string>;
}

interface Mutation {
  route: string;
  request: (c: Ctx) => Promise<Call> | Call;
  action: string;
  keep?: (c: Ctx, body: Record<string, unknown>) => void;
  /** Who the audit row names, when not the onboarding admin. */
  actor?: (c: Ctx) => string;
}

const PASSWORD = "audited-password-123";
const PASSWORD2 = "audited-password-456";
const totpCode = (c: Ctx, offset = 0) =>
  new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(c.ids.totp as string), digits: 6, period: 30 }).generate({
    timestamp: Date.now() + offset,
  });

/** Every mutating route: a request to make, and the audit action it must add. A new route must be added here. */
const MUTATIONS: Mutation[] = [
  // The account first: the onboarding setup token sets the first password, then a password session does the rest.
  {
    route: "POST /v1/auth/accept-invite",
    request: (c) => ({
      path: "/v1/auth/accept-invite",
      body: { invite_token: c.ids.setup, password: PASSWORD },
      token: "",
    }),
    action: "user.password_set",
  },
  {
    route: "POST /v1/auth/login",
    request: () => ({ path: "/v1/auth/login", body: { email: "ops@acme.com", password: PASSWORD }, token: "" }),
    action: "auth.login",
    keep: (c, b) => (c.ids.session = b.access_token as string),
  },
  {
    route: "POST /v1/me/password",
    request: (c) => ({
      path: "/v1/me/password",
      body: { current_password: PASSWORD, new_password: PASSWORD2 },
      token: c.ids.session,
    }),
    action: "user.password_changed",
  },
  {
    route: "POST /v1/me/mfa/totp",
    request: (c) => ({ path: "/v1/me/mfa/totp", body: {}, token: c.ids.session }),
    action: "mfa.enrolment_started",
    keep: (c, b) => (c.ids.totp = b.secret as string),
  },
  {
    route: "POST /v1/me/mfa/totp/confirm",
    request: (c) => ({ path: "/v1/me/mfa/totp/confirm", body: { code: totpCode(c) }, token: c.ids.session }),
    action: "mfa.enabled",
    keep: (c, b) => (c.ids.recovery = (b.recovery_codes as string[])[0] as string),
  },
  {
    route: "PATCH /v1/workspace/security",
    request: (c) => ({ path: "/v1/workspace/security", body: { require_mfa: true }, token: c.ids.session }),
    action: "workspace.security_changed",
  },
  {
    route: "POST /v1/auth/login#mfa",
    request: () => ({ path: "/v1/auth/login", body: { email: "ops@acme.com", password: PASSWORD2 }, token: "" }),
    action: "none",
    keep: (c, b) => (c.ids.mfa = b.mfa_token as string),
  },
  {
    route: "POST /v1/auth/mfa/verify",
    request: (c) => ({
      path: "/v1/auth/mfa/verify",
      body: { mfa_token: c.ids.mfa, code: totpCode(c, 30_000) },
      token: "",
    }),
    action: "auth.login",
    keep: (c, b) => {
      c.ids.refresh = b.refresh_token as string;
      c.ids.session = b.access_token as string;
    },
  },
  {
    route: "PATCH /v1/workspace/security#off",
    request: (c) => ({ path: "/v1/workspace/security", body: { require_mfa: false }, token: c.ids.session }),
    action: "workspace.security_changed",
  },
  {
    route: "POST /v1/me/mfa/totp/disable",
    request: (c) => ({ path: "/v1/me/mfa/totp/disable", body: { code: c.ids.recovery }, token: c.ids.session }),
    action: "mfa.disabled",
  },
  {
    route: "POST /v1/tokens",
    request: (c) => ({ path: "/v1/tokens", body: { name: "ci", scopes: ["issues:read"] }, token: c.ids.session }),
    action: "token.created",
    keep: (c, b) => (c.ids.token = b.id as string),
  },
  {
    route: "POST /v1/tokens/:id/rotate",
    request: (c) => ({ path: `/v1/tokens/${c.ids.token}/rotate`, body: { grace_minutes: 5 }, token: c.ids.session }),
    action: "token.created,token.rotated",
  },
  {
    route: "DELETE /v1/tokens/:id",
    request: (c) => ({ path: `/v1/tokens/${c.ids.token}`, token: c.ids.session }),
    action: "token.revoked",
  },
  {
    route: "POST /v1/scim-tokens",
    request: (c) => ({ path: "/v1/scim-tokens", body: { name: "okta" }, token: c.ids.session }),
    action: "scim_token.created",
    keep: (c, b) => (c.ids.sct = b.id as string),
  },
  {
    route: "POST /v1/scim-tokens/:id/rotate",
    request: (c) => ({ path: `/v1/scim-tokens/${c.ids.sct}/rotate`, body: {}, token: c.ids.session }),
    action: "scim_token.rotated",
    keep: (c, b) => (c.ids.scim = b.token as string),
  },
  ...scimMutations(),
  {
    route: "DELETE /v1/scim-tokens/:id",
    request: (c) => ({ path: `/v1/scim-tokens/${c.ids.sct}`, token: c.ids.session }),
    action: "scim_token.revoked",
  },
  {
    route: "POST /v1/relay-tokens",
    request: (c) => ({ path: "/v1/relay-tokens", body: { name: "dc-west" }, token: c.ids.session }),
    action: "relay_token.created",
    keep: (c, b) => (c.ids.rlt = b.id as string),
  },
  {
    route: "POST /v1/relay-tokens/:id/rotate",
    request: (c) => ({ path: `/v1/relay-tokens/${c.ids.rlt}/rotate`, body: {}, token: c.ids.session }),
    action: "relay_token.rotated",
  },
  {
    route: "DELETE /v1/relay-tokens/:id",
    request: (c) => ({ path: `/v1/relay-tokens/${c.ids.rlt}` }),
    action: "relay_token.revoked",
  },
  {
    // Through the relay connected in beforeAll (a real agent and a customer's PostgreSQL).
    route: "POST /v1/connectors/:id/query",
    request: (c) => ({
      path: `/v1/connectors/${c.ids.relayConnector}/query`,
      body: { sql: "select count(*) from orders" },
    }),
    action: "relay.query",
  },
  {
    route: "POST /v1/access-reviews",
    request: () => ({ path: "/v1/access-reviews", body: {} }),
    action: "access_review.started",
    keep: (c, b) => {
      c.ids.review = b.id as string;
      c.ids.lines = JSON.stringify((b.lines as { id: string }[]).map((l) => l.id));
    },
  },
  {
    route: "POST /v1/access-reviews/:id/decisions",
    request: (c) => ({
      path: `/v1/access-reviews/${c.ids.review}/decisions`,
      body: {
        decisions: (JSON.parse(c.ids.lines as string) as string[]).map((id) => ({ item_id: id, decision: "keep" })),
      },
    }),
    action: "access_review.decided",
  },
  {
    route: "POST /v1/access-reviews/:id/complete",
    request: (c) => ({ path: `/v1/access-reviews/${c.ids.review}/complete`, body: {} }),
    action: "access_review.completed",
  },
  {
    route: "POST /v1/issues",
    request: () => ({ path: "/v1/issues", body: { title: "Disk full" } }),
    action: "issue.created",
    keep: (c, b) => (c.ids.issue = b.id as string),
  },
  {
    route: "PATCH /v1/issues/:id",
    request: (c) => ({ path: `/v1/issues/${c.ids.issue}`, body: { status: "resolved" } }),
    action: "issue.updated",
  },
  { route: "DELETE /v1/issues/:id", request: (c) => ({ path: `/v1/issues/${c.ids.issue}` }), action: "issue.deleted" },
  {
    route: "POST /v1/connectors",
    request: () => ({
      path: "/v1/connectors",
      body: { type: "pagerduty", display_name: "PD", config: { token: "pd_secret_token" } },
    }),
    // PagerDuty sends events: its inbound webhook is created with it, in the same transaction.
    action: "connector.created,inbound_webhook.created",
    keep: (c, b) => (c.ids.connector = b.id as string),
  },
  {
    route: "PATCH /v1/connectors/:id",
    request: (c) => ({ path: `/v1/connectors/${c.ids.connector}`, body: { display_name: "PagerDuty" } }),
    action: "connector.updated",
  },
  {
    route: "DELETE /v1/connectors/:id",
    request: (c) => ({ path: `/v1/connectors/${c.ids.connector}` }),
    action: "connector.deleted",
  },
  {
    route: "POST /v1/webhooks",
    request: () => ({ path: "/v1/webhooks", body: { url: "https://hooks.example.com/x" } }),
    action: "webhook.created",
    keep: (c, b) => (c.ids.webhook = b.id as string),
  },
  {
    route: "POST /v1/audit-streams",
    request: () => ({
      path: "/v1/audit-streams",
      body: { url: "https://siem.example.com/x", token: "hec-secret-token" },
    }),
    action: "audit_stream.created",
    keep: (c, b) => (c.ids.stream = b.id as string),
  },
  {
    route: "DELETE /v1/audit-streams/:id",
    request: (c) => ({ path: `/v1/audit-streams/${c.ids.stream}` }),
    action: "audit_stream.deleted",
  },
  {
    route: "POST /v1/security-alerts/:id/acknowledge",
    request: async (c) => ({
      path: `/v1/security-alerts/${await c.openAlert()}/acknowledge`,
      body: { note: "expected: our own test" },
    }),
    action: "security_alert.acknowledged",
  },
  {
    route: "POST /v1/webhooks/:id/rotate-secret",
    request: (c) => ({ path: `/v1/webhooks/${c.ids.webhook}/rotate-secret`, body: { overlap_hours: 1 } }),
    action: "webhook.secret_rotated",
  },
  {
    route: "POST /v1/webhooks/:id/deliveries/:delivery_id/replay",
    request: async (c) => ({
      path: `/v1/webhooks/${c.ids.webhook}/deliveries/${await c.deadDelivery(c.ids.webhook as string)}/replay`,
    }),
    action: "webhook.delivery_replayed",
  },
  {
    route: "DELETE /v1/webhooks/:id",
    request: (c) => ({ path: `/v1/webhooks/${c.ids.webhook}` }),
    action: "webhook.deleted",
  },
  {
    route: "POST /v1/inbound-webhooks",
    request: () => ({ path: "/v1/inbound-webhooks", body: { source: "generic" } }),
    action: "inbound_webhook.created",
    keep: (c, b) => {
      c.ids.hookId = b.id as string;
      c.ids.hook = new URL(b.url as string).pathname;
      c.ids.hookSecret = b.signing_secret as string;
    },
  },
  {
    // The receiving URL: no credential but the signature; the event's first firing opens an issue (audited).
    route: "POST /v1/hooks/:path_token",
    request: (c) => {
      const body = { title: "Disk full on db-3", event_id: "audit-test-1", severity: "high" };
      const signature = causeloopSignature(c.ids.hookSecret as string, JSON.stringify(body));
      return { path: c.ids.hook as string, body, token: "", headers: { "x-causeloop-signature": signature } };
    },
    action: "issue.created",
    actor: (c) => c.ids.hookId as string,
  },
  {
    route: "POST /v1/sso-connections",
    request: (c) => ({
      path: "/v1/sso-connections",
      body: {
        provider: "oidc",
        display_name: "Okta",
        issuer: "https://acme.okta.com/",
        audience: "causeloop",
        jwks_url: c.ids.jwksUrl,
        client_id: "causeloop",
        client_secret: "okta_client_secret",
      },
    }),
    action: "sso_connection.created",
    keep: (c, b) => (c.ids.oidc = b.id as string),
  },
  {
    route: "POST /v1/me/identities",
    request: async (c) => ({
      path: "/v1/me/identities",
      body: { token: await c.idToken("ops@acme.com") },
      token: c.ids.session,
    }),
    action: "user.identity_linked",
  },
  {
    route: "POST /v1/auth/exchange",
    request: async (c) => ({
      path: "/v1/auth/exchange",
      body: { token: await c.idToken("ops@acme.com"), workspace_id: c.ids.workspace },
      token: "",
    }),
    action: "auth.login",
  },
  {
    route: "DELETE /v1/sso-connections/:id",
    request: (c) => ({ path: `/v1/sso-connections/${c.ids.oidc}` }),
    action: "sso_connection.deleted",
  },
  {
    route: "POST /v1/sso-connections#saml",
    request: (c) => ({
      path: "/v1/sso-connections",
      body: {
        provider: "saml",
        display_name: "Corp SAML",
        issuer: IDP_ENTITY_ID,
        sso_url: IDP_SSO_URL,
        idp_certificate: c.ids.samlCert,
        jit_provisioning: true,
      },
    }),
    action: "sso_connection.created",
    keep: (c, b) => (c.ids.saml = b.id as string),
  },
  {
    route: "PATCH /v1/sso-connections/:id",
    request: (c) => ({ path: `/v1/sso-connections/${c.ids.saml}`, body: { display_name: "Corp SAML (prod)" } }),
    action: "sso_connection.updated",
  },
  {
    route: "POST /v1/sso-connections/:id/test",
    request: (c) => ({ path: `/v1/sso-connections/${c.ids.saml}/test` }),
    action: "sso_connection.tested",
  },
  {
    route: "POST /v1/sso-connections/:id/link",
    request: (c) => ({ path: `/v1/sso-connections/${c.ids.saml}/link`, token: c.ids.session }),
    action: "none",
  },
  {
    route: "POST /v1/auth/sso/:id/acs",
    request: async (c) => ({
      path: `/v1/auth/sso/${c.ids.saml}/acs`,
      body: { SAMLResponse: await c.samlResponse("saml|7", "jit.person@acme.com") },
      token: "",
    }),
    action: "member.provisioned,auth.login",
    keep: (c, b) =>
      (c.ids.samlUser = JSON.parse(
        Buffer.from((b.access_token as string).split(".")[1] as string, "base64url").toString(),
      ).sub),
    actor: (c) => c.ids.samlUser as string,
  },
  {
    route: "PUT /v1/workspace/sso-policy",
    request: () => ({ path: "/v1/workspace/sso-policy", body: { enforce_sso: false, break_glass_user_ids: [] } }),
    action: "workspace.sso_policy_changed",
  },
  {
    route: "PATCH /v1/governance/retention",
    request: () => ({ path: "/v1/governance/retention", body: { activity_retention_days: 30 } }),
    action: "retention.updated",
  },
  {
    route: "POST /v1/governance/rtbf/requests",
    request: () => ({
      path: "/v1/governance/rtbf/requests",
      body: { email: "subject@example.com", reason: "Art. 17" },
    }),
    action: "rtbf.submitted",
    keep: (c, b) => (c.ids.rtbf = b.id as string),
  },
  {
    route: "POST /v1/governance/rtbf/requests/:id/verify",
    request: (c) => ({ path: `/v1/governance/rtbf/requests/${c.ids.rtbf}/verify` }),
    action: "rtbf.verifying",
  },
  {
    route: "POST /v1/governance/rtbf/requests/:id/hold",
    request: (c) => ({ path: `/v1/governance/rtbf/requests/${c.ids.rtbf}/hold`, body: { reason: "waiting for ID" } }),
    action: "rtbf.on_hold",
  },
  {
    route: "POST /v1/governance/rtbf/requests/:id/reject",
    request: (c) => ({
      path: `/v1/governance/rtbf/requests/${c.ids.rtbf}/reject`,
      body: { reason: "not our subject" },
    }),
    action: "rtbf.rejected",
  },
  {
    route: "POST /v1/governance/rtbf/requests/:id/approve",
    request: async (c) => {
      const again = await c.submit("subject@example.com");
      c.ids.rtbf2 = again;
      return { path: `/v1/governance/rtbf/requests/${again}/approve` };
    },
    action: "rtbf.approved,rtbf.processing,rtbf.completed",
    actor: (c) => c.userId,
  },
  {
    route: "POST /v1/governance/exports",
    request: () => ({ path: "/v1/governance/exports" }),
    action: "export.requested",
  },
  {
    route: "POST /v1/gdpr/export-requests",
    request: () => ({ path: "/v1/gdpr/export-requests", body: { format: "json" } }),
    action: "export.requested",
  },
  {
    route: "POST /v1/members",
    request: () => ({ path: "/v1/members", body: { email: "new@acme.com", role: "analyst" } }),
    action: "member.invited",
    keep: (c, b) => {
      c.ids.member = b.member_id as string;
      c.ids.invite = b.invite_token as string;
    },
  },
  {
    route: "POST /v1/auth/accept-invite",
    request: (c) => ({
      path: "/v1/auth/accept-invite",
      body: { invite_token: c.ids.invite, password: "new-member-password-1" },
      token: "",
    }),
    action: "member.joined",
    keep: (c, b) => (c.ids.newUser = b.user_id as string),
    actor: (c) => c.ids.newUser as string,
  },
  {
    route: "PATCH /v1/members/:id",
    request: (c) => ({ path: `/v1/members/${c.ids.member}`, body: { role: "viewer" } }),
    action: "member.role_changed",
  },
  {
    route: "DELETE /v1/members/:id",
    request: (c) => ({ path: `/v1/members/${c.ids.member}` }),
    action: "member.removed",
  },
  {
    route: "POST /v1/service-accounts",
    request: () => ({ path: "/v1/service-accounts", body: { name: "ci-bot", role: "analyst" } }),
    action: "service_account.created",
    keep: (c, b) => (c.ids.sa = b.id as string),
  },
  {
    route: "POST /v1/service-accounts/:id/tokens",
    request: (c) => ({
      path: `/v1/service-accounts/${c.ids.sa}/tokens`,
      body: { name: "bot", scopes: ["issues:read"] },
    }),
    action: "token.created",
  },
  {
    route: "PATCH /v1/workspace/rate-limit",
    request: () => ({ path: "/v1/workspace/rate-limit", body: { per_minute: 100000 } }),
    action: "workspace.rate_limit_changed",
  },
  {
    route: "POST /v1/predictions/refresh",
    request: async (c) => {
      await c.insights();
      return { path: "/v1/predictions/refresh", body: {} };
    },
    action: "insights.refreshed",
  },
  {
    route: "POST /v1/patterns/:id/feedback",
    request: async (c) => ({
      path: `/v1/patterns/${(await c.insights()).pmt}/feedback`,
      body: { decision: "confirm" },
    }),
    action: "pattern.confirmed",
  },
  {
    route: "POST /v1/recommendations/:id/feedback",
    request: async (c) => ({
      path: `/v1/recommendations/${(await c.insights()).rec}/feedback`,
      body: { decision: "accept" },
    }),
    action: "recommendation.accepted",
  },
  {
    route: "POST /v1/clusters/:id/pin",
    request: async (c) => ({
      path: `/v1/clusters/${(await c.insights()).clu}/pin`,
      body: { match: "acme sync job 1 failed: disk full" },
    }),
    action: "cluster.pinned",
  },
  {
    route: "POST /v1/clusters/split",
    request: () => ({ path: "/v1/clusters/split", body: { match: "acme sync job <*> failed: quota exceeded" } }),
    action: "cluster.split",
  },
  {
    route: "POST /v1/clusters/:id/merge",
    request: async (c) => {
      const ids = await c.insights();
      return { path: `/v1/clusters/${ids.clu}/merge`, body: { from: ids.other } };
    },
    action: "cluster.merged",
  },
  {
    route: "POST /v1/auth/refresh",
    request: (c) => ({ path: "/v1/auth/refresh", body: { refresh_token: c.ids.refresh }, token: "" }),
    action: "auth.token_refreshed",
    keep: (c, b) => (c.ids.refresh = b.refresh_token as string),
  },
  {
    route: "POST /v1/auth/logout",
    request: (c) => ({ path: "/v1/auth/logout", body: { refresh_token: c.ids.refresh }, token: "" }),
    action: "auth.logout",
  },
];

/** SCIM requests authenticate with the SCIM token; the audit row names the token as the actor. */
function scimMutations(): Mutation[] {
  const scim = (route: string, request: Mutation["request"], action: string, keep?: Mutation["keep"]): Mutation => ({
    route,
    request: async (c) => ({ ...(await request(c)), token: c.ids.scim }),
    action,
    keep,
    actor: (c) => c.ids.sct as string,
  });
  const user = (c: Ctx) => `/scim/v2/Users/${c.ids.scu}`;
  const group = (c: Ctx) => `/scim/v2/Groups/${c.ids.scg}`;
  const patch = (op: Record<string, unknown>) => ({
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [op],
  });
  return [
    scim(
      "POST /scim/v2/Users",
      () => ({ path: "/scim/v2/Users", body: { userName: "scim.person@acme.com" } }),
      "scim.user_created",
      (c, b) => (c.ids.scu = b.id as string),
    ),
    scim(
      "PUT /scim/v2/Users/:id",
      (c) => ({ path: user(c), body: { userName: "scim.person@acme.com", title: "Ops", active: true } }),
      "scim.user_updated",
    ),
    scim(
      "POST /scim/v2/Groups",
      () => ({ path: "/scim/v2/Groups", body: { displayName: "Analysts" } }),
      "scim.group_created",
      (c, b) => (c.ids.scg = b.id as string),
    ),
    scim(
      "PUT /scim/v2/Groups/:id",
      (c) => ({ path: group(c), body: { displayName: "Analysts", members: [{ value: c.ids.scu }] } }),
      "scim.group_updated",
    ),
    scim(
      "PATCH /scim/v2/Groups/:id",
      (c) => ({ path: group(c), body: patch({ op: "remove", path: `members[value eq "${c.ids.scu}"]` }) }),
      "scim.group_updated",
    ),
    scim("DELETE /scim/v2/Groups/:id", (c) => ({ path: group(c) }), "scim.group_deleted"),
    scim(
      "PATCH /scim/v2/Users/:id",
      (c) => ({ path: user(c), body: patch({ op: "Replace", path: "active", value: "False" }) }),
      "scim.user_deactivated",
    ),
    scim("DELETE /scim/v2/Users/:id", (c) => ({ path: user(c) }), "scim.user_deleted"),
  ];
}

describeEngines("audited routes", (kind) => {
  let db: TestDb;
  let acme: OnboardResult;
  let app: HttpApp;
  let hub: HubServer;
  let customer: CustomerDb;
  let relay: Awaited<ReturnType<typeof runRelay>> | undefined;
  let relayConnector: string;
  let contract: Contract;
  const call = (
    path: string,
    init: { method?: string; body?: unknown; token?: string; headers?: Record<string, string> } = {},
  ) => {
    const token = init.token ?? acme.admin_token;
    return app.fetch(
      new Request(`http://localhost${path}`, {
        method: init.method ?? "GET",
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          "content-type": "application/json",
          "x-request-id": "trace-audit-1",
          "user-agent": "audit-test",
          ...init.headers,
        },
      }),
    );
  };
  const auditRows = async () =>
    db.owner.query<{
      seq: number;
      action: string;
      actor_id: string;
      trace_id: string;
      user_agent: string;
      after: unknown;
    }>(
      "select seq::int as seq, action, actor_id, trace_id, user_agent, after from audit_log where workspace_id = $1 order by seq",
      [acme.workspace_id],
    );

  beforeAll(async () => {
    db = await createTestDb(kind);
    const kek = new LocalKeyRing(Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"));
    const signer = await testSigner();
    acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" }, kek);
    const d = db;
    const rtbfKeys = { hmacKey: await importHmacKey("audit-test-rtbf"), signer };
    hub = await serveWithHub(
      db.app,
      apiDeps(db, kek, {
        outbound: outboundPolicy({ allowlist: "127.0.0.1" }),
        publicUrl: "https://causeloop.test",
        signer,
        rtbf: { keys: rtbfKeys, approve: (actor, id) => approve(d.app, rtbfKeys, archives.store, actor, id) },
      }),
    );
    app = hub.app;
    // A relay connected before the checked calls (its connection has an audit row of its own).
    customer = await customerDatabase();
    const operator = { workspaceId: acme.workspace_id, actorId: "op", actorType: "operator" as const, context: {} };
    const relayToken = await withTenant(db.app, acme.workspace_id, (tx) =>
      createRelayToken(tx, operator, { name: "audited" }),
    );
    relay = await runRelay(hub.url, relayToken.token, customer);
    const [connector] = await db.owner.query<{ id: string }>(
      "select id from connectors where workspace_id = $1 and display_name = 'audited/main'",
      [acme.workspace_id],
    );
    relayConnector = connector?.id as string;
    contract = await loadContract(app);
  });
  afterAll(async () => {
    await relay?.dispose();
    await hub?.stop();
    await customer?.dispose();
    await db.dispose();
  });

  test("every mutating route is listed here and adds exactly its audit row, with actor, trace id and no secret", async () => {
    const registered = app.elysia.routes
      .filter((r) => ["POST", "PUT", "PATCH", "DELETE"].includes(r.method))
      .map((r) => `${r.method} ${r.path}`)
      .sort();
    expect(registered).toEqual([...new Set(MUTATIONS.map((m) => m.route.split("#")[0] as string))].sort());
    const samlIdp = startSamlIdp();
    const idp = await generateKeyPair("RS256");
    const jwk = { ...(await exportJWK(idp.publicKey)), kid: "k1", alg: "RS256" };
    const jwksServer = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.json({ keys: [jwk] }) });
    const idToken = (email: string) =>
      new SignJWT({ email, email_verified: true })
        .setProtectedHeader({ alg: "RS256", kid: "k1" })
        .setIssuer("https://acme.okta.com/")
        .setAudience("causeloop")
        .setSubject("okta|1")
        .setExpirationTime("5m")
        .sign(idp.privateKey);
    const submit = async (email: string) =>
      (
        (await (await call("/v1/governance/rtbf/requests", { method: "POST", body: { email } })).json()) as {
          id: string;
        }
      ).id;
    const insightIds: Record<string, string> = {};
    const ctx: Ctx = {
      submit,
      ids: {
        samlCert: samlIdp.cert,
        jwksUrl: `http://127.0.0.1:${jwksServer.port}/keys`,
        workspace: acme.workspace_id,
        setup: acme.setup_token as string,
        relayConnector,
      },
      idToken,
      openAlert: async () => {
        const id = newId("alr");
        await db.owner.query(
          "insert into security_alerts (workspace_id, id, rule, summary, dedup_key) values ($1, $2, 'new_owner', 'a test alert', $2)",
          [acme.workspace_id, id],
        );
        return id;
      },
      insights: async () => {
        if (insightIds.clu) return insightIds;
        insightIds.clu = await recurringProblem(db.app, acme.workspace_id, "acme");
        insightIds.other = (
          await ingestEvent(db.app, acme.workspace_id, "Cache node 3 evicted 500 keys", new Date())
        ).cluster_id;
        await withTenant(db.app, acme.workspace_id, (tx) => refreshInsights(tx, acme.workspace_id));
        const [pattern] = await db.owner.query<{ id: string }>("select id from patterns where workspace_id = $1", [
          acme.workspace_id,
        ]);
        const [rec] = await db.owner.query<{ id: string }>("select id from recommendations where workspace_id = $1", [
          acme.workspace_id,
        ]);
        insightIds.pmt = pattern?.id as string;
        insightIds.rec = rec?.id as string;
        return insightIds;
      },
      deadDelivery: async (webhookId) => {
        const id = newId("dlv");
        await db.owner.query(
          `insert into webhook_deliveries (workspace_id, id, webhook_id, event_id, event_type, payload, status, attempts, dead_at)
           values ($1, $2, $3, $4, 'issue.created', '{}'::jsonb, 'dead', 9, now())`,
          [acme.workspace_id, id, webhookId, newId("msg")],
        );
        return id;
      },
      adminToken: acme.admin_token as string,
      userId: acme.user_id as string,
      samlResponse: async (nameId, email) => {
        const metadata = await (await call(`/v1/auth/sso/${ctx.ids.saml}/metadata`, { token: "" })).text();
        return samlIdp.respond(metadata, { nameId, email });
      },
    };
    for (const m of MUTATIONS) {
      const before = await auditRows();
      const { path, body, token, headers } = await m.request(ctx);
      const [method, route] = (m.route.split("#")[0] as string).split(" ") as [string, string];
      const response = await call(path, { method, body, token, headers });
      // token "" = no credentials; the listed token otherwise (the onboarding admin token by default)
      const text = await response.text();
      if (response.status >= 300) throw new Error(`${m.route}: ${response.status} ${text}`);
      // Every success answer is the one the OpenAPI contract documents.
      expect(contract.check(method, route, response.status, response.headers.get("content-type"), text)).toEqual([]);
      if (response.status !== 204) m.keep?.(ctx, JSON.parse(text) as Record<string, unknown>);
      const added = (await auditRows()).slice(before.length);
      // Login with MFA pending changes nothing yet; the audit row comes with the verified code.
      const expectedRows = m.route.endsWith("/approve") ? added.slice(-3) : added;
      expect(`${m.route}: ${expectedRows.map((a) => a.action).join(",") || "none"}`).toBe(`${m.route}: ${m.action}`);
      if (m.action === "none") continue;
      expect(added[0]).toMatchObject({
        actor_id: m.actor?.(ctx) ?? acme.user_id,
        trace_id: "trace-audit-1",
        user_agent: "audit-test",
      });
      expect(JSON.stringify(added[0]?.after ?? null)).not.toMatch(/secret_token|client_secret"|whsec_/);
    }
    jwksServer.stop(true);
  });
  test("GET /v1/audit lists newest first with filters and keyset pages, and the read itself is audited", async () => {
    const first = (await (await call("/v1/audit?limit=3")).json()) as {
      data: { seq: number; action: string }[];
      next_cursor: string;
    };
    expect(first.data.map((d) => d.seq)).toEqual([...first.data.map((d) => d.seq)].sort((a, b) => b - a));
    const second = (await (await call(`/v1/audit?limit=3&cursor=${first.next_cursor}`)).json()) as {
      data: { seq: number }[];
    };
    expect(Math.max(...second.data.map((d) => d.seq))).toBeLessThan(Math.min(...first.data.map((d) => d.seq)));
    const filtered = (await (await call("/v1/audit?action=issue.created")).json()) as { data: { action: string }[] };
    expect(filtered.data.length).toBeGreaterThan(0);
    expect(filtered.data.every((d) => d.action === "issue.created")).toBe(true);
    const rows = await auditRows();
    expect(rows.at(-1)?.action).toBe("audit.read");
    expect((await call("/v1/audit?cursor=abc")).status).toBe(422);
  });

  test("GET /v1/audit/verify is ok; a viewer is refused the audit trail with 403; the public key is published", async () => {
    const verify = (await (await call("/v1/audit/verify")).json()) as { ok: boolean; rows: number };
    expect(verify.ok).toBe(true);
    expect(verify.rows).toBeGreaterThan(10);
    const viewer = newPat(acme.workspace_id);
    await db.owner.query(
      "insert into personal_access_tokens (workspace_id, id, user_id, name, token_prefix, pat_hash, role, scopes) values ($1, new_id('pat'), $2, 'viewer', $3, $4, 'viewer', '{*}')",
      [acme.workspace_id, acme.user_id, viewer.prefix, viewer.hash],
    );
    const refused = await call("/v1/audit", { token: viewer.token });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { code: string }).code).toBe("forbidden");
    const jwks = (await (await app.fetch(new Request("http://localhost/.well-known/jwks.json"))).json()) as {
      keys: { kty: string; crv: string }[];
    };
    expect(jwks.keys[0]).toMatchObject({ kty: "OKP", crv: "Ed25519" });
  });
});
