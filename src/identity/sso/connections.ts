// SSO connections: a workspace's identity providers (OIDC, SAML 2.0, or a bare ID-token issuer for
// /v1/auth/exchange). The client secret is sealed with the workspace key and never returned; every change
// is audited in the same transaction. URLs Causeloop fetches are checked against the outbound policy here
// (literal addresses, loopback names) and again, after DNS resolution, by the guard at every fetch.
import { X509Certificate } from "node:crypto";
import type { Static } from "elysia";
import type { Tx } from "../../db/engine.ts";
import { idKeyset, idPage, type Page, type PageQuery } from "../../db/where.ts";
import { AppError } from "../../errors.ts";
import { newId } from "../../ids.ts";
import { auditActor, type Actor } from "../../audit/service.ts";
import type { SecretBox } from "../../secrets/envelope.ts";
import type { OutboundPolicy } from "../../net/policy.ts";
import { assertUserUrl } from "../../net/user-url.ts";
import type { SsoConnection } from "./schemas.ts";

export type Provider = "oidc" | "saml" | "jwt";
export type MappedRole = "admin" | "analyst" | "viewer";
export interface RoleRule {
  group: string;
  role: MappedRole;
}

export interface SsoInput {
  provider: Provider;
  display_name: string;
  issuer: string;
  audience?: string;
  jwks_url?: string;
  client_id?: string;
  client_secret?: string;
  metadata_url?: string;
  sso_url?: string;
  idp_certificate?: string;
  jit_provisioning?: boolean;
  default_role?: MappedRole;
  groups_claim?: string;
  role_mapping?: RoleRule[];
}

export type SsoUpdate = Partial<Omit<SsoInput, "provider">> & { status?: "active" | "disabled" };

/** A connection row as stored (the sealed secret stays sealed until a flow needs it). */
export interface ConnectionRow {
  id: string;
  provider: Provider;
  display_name: string;
  issuer: string;
  audience: string | null;
  jwks_url: string | null;
  client_id: string | null;
  client_secret_encrypted: string | null;
  metadata_url: string | null;
  sso_url: string | null;
  idp_certificate: string | null;
  jit_provisioning: boolean;
  default_role: MappedRole;
  groups_claim: string;
  role_mapping: RoleRule[];
  status: "active" | "disabled";
  created_at: Date;
  updated_at: Date;
}

export type SsoConnectionView = Static<typeof SsoConnection>;

export const CONNECTION_COLUMNS =
  "id, provider, display_name, issuer, audience, jwks_url, client_id, client_secret_encrypted, metadata_url, sso_url, idp_certificate, jit_provisioning, default_role, groups_claim, role_mapping, status, created_at, updated_at";

const iso = (value: Date | string) => new Date(value).toISOString();

/** The SHA-256 fingerprint of a PEM certificate, or undefined when it is not one. */
export function certificateFingerprint(pem: string): string | undefined {
  try {
    return new X509Certificate(pem).fingerprint256;
  } catch {
    return undefined;
  }
}

function view(row: ConnectionRow, secretLast4: string | null): SsoConnectionView {
  return {
    id: row.id,
    provider: row.provider,
    display_name: row.display_name,
    status: row.status,
    issuer: row.issuer,
    audience: row.audience,
    jwks_url: row.jwks_url,
    client_id: row.client_id,
    has_client_secret: row.client_secret_encrypted !== null,
    client_secret_last4: secretLast4,
    metadata_url: row.metadata_url,
    sso_url: row.sso_url,
    idp_certificate_fingerprint: row.idp_certificate ? (certificateFingerprint(row.idp_certificate) ?? null) : null,
    jit_provisioning: row.jit_provisioning,
    default_role: row.default_role,
    groups_claim: row.groups_claim,
    role_mapping: row.role_mapping,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

const secretContext = (id: string) => ({ table: "sso_connections", column: "client_secret_encrypted", rowId: id });

async function viewOf(box: SecretBox, row: ConnectionRow): Promise<SsoConnectionView> {
  const secret = row.client_secret_encrypted
    ? await box.open(secretContext(row.id), row.client_secret_encrypted)
    : null;
  return view(row, secret ? secret.slice(-4) : null);
}

/** What each provider needs, checked on the connection as it will be stored. */
function assertComplete(next: Omit<SsoInput, "display_name">, outbound: OutboundPolicy): void {
  if (next.provider === "oidc") {
    assertUserUrl(next.issuer, outbound, "issuer");
    if (!next.client_id) throw new AppError("validation_failed", "client_id is required for an oidc connection");
  }
  if (next.provider === "saml") {
    if (!next.sso_url) throw new AppError("validation_failed", "sso_url is required for a saml connection");
    if (!/^https?:\/\//i.test(next.sso_url)) throw new AppError("validation_failed", "sso_url must be an https URL");
    if (!next.idp_certificate || !certificateFingerprint(next.idp_certificate))
      throw new AppError("validation_failed", "idp_certificate must be the IdP's PEM signing certificate");
  }
  if (next.metadata_url && next.provider !== "saml")
    throw new AppError("validation_failed", "metadata_url is for saml connections");
  if (next.provider === "jwt" && !next.jwks_url)
    throw new AppError("validation_failed", "jwks_url is required for a jwt connection");
  if (next.jwks_url) assertUserUrl(next.jwks_url, outbound, "jwks_url");
}

/** The settable columns as both statements bind them ($3..$15; null: keep or default). */
function settingValues(input: SsoUpdate, sealedSecret: string | null): unknown[] {
  return [
    input.display_name ?? null,
    input.issuer ?? null,
    input.audience ?? null,
    input.jwks_url ?? null,
    input.client_id ?? null,
    sealedSecret,
    input.sso_url ?? null,
    input.idp_certificate ?? null,
    input.jit_provisioning ?? null,
    input.default_role ?? null,
    input.groups_claim ?? null,
    input.role_mapping ? JSON.stringify(input.role_mapping) : null,
    input.metadata_url ?? null,
  ];
}

/** The audited picture of a connection: its settings, never its secret. */
const auditView = (v: SsoConnectionView) => ({
  provider: v.provider,
  display_name: v.display_name,
  status: v.status,
  issuer: v.issuer,
  client_id: v.client_id,
  metadata_url: v.metadata_url,
  sso_url: v.sso_url,
  idp_certificate_fingerprint: v.idp_certificate_fingerprint,
  jit_provisioning: v.jit_provisioning,
  default_role: v.default_role,
  groups_claim: v.groups_claim,
  role_mapping: v.role_mapping,
});

export async function connectionRow(tx: Tx, workspaceId: string, id: string): Promise<ConnectionRow> {
  const [row] = await tx.query<ConnectionRow>(
    `select ${CONNECTION_COLUMNS} from sso_connections where workspace_id = $1 and id = $2`,
    [workspaceId, id],
  );
  if (!row) throw new AppError("not_found", "no such SSO connection");
  return row;
}

export async function createSsoConnection(
  tx: Tx,
  box: SecretBox,
  actor: Actor,
  input: SsoInput,
  outbound: OutboundPolicy,
): Promise<SsoConnectionView> {
  assertComplete(input, outbound);
  const id = newId("sso");
  const sealed = input.client_secret ? await box.seal(secretContext(id), input.client_secret) : null;
  const settings = {
    jit_provisioning: false,
    default_role: "viewer" as const,
    groups_claim: "groups",
    role_mapping: [],
    ...input,
  };
  const [row] = await tx.query<ConnectionRow>(
    `insert into sso_connections (workspace_id, id, display_name, issuer, audience, jwks_url, client_id, client_secret_encrypted,
       sso_url, idp_certificate, jit_provisioning, default_role, groups_claim, role_mapping, metadata_url, provider, created_by)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb, $15, $16, $17) returning ${CONNECTION_COLUMNS}`,
    [actor.workspaceId, id, ...settingValues(settings, sealed), input.provider, actor.actorId],
  );
  const created = view(row as ConnectionRow, input.client_secret ? input.client_secret.slice(-4) : null);
  await auditActor(tx, actor, "sso_connection.created", "sso_connection", id, auditView(created));
  return created;
}

export async function listSsoConnections(
  tx: Tx,
  box: SecretBox,
  workspaceId: string,
  query: PageQuery,
): Promise<Page<SsoConnectionView>> {
  const { limit, after } = idKeyset(query);
  const rows = await tx.query<ConnectionRow>(
    `select ${CONNECTION_COLUMNS} from sso_connections where workspace_id = $1 and ($2::text is null or id > $2) order by id limit $3`,
    [workspaceId, after, limit + 1],
  );
  const page = idPage(rows, limit);
  return { data: await Promise.all(page.data.map((row) => viewOf(box, row))), next_cursor: page.next_cursor };
}

export async function getSsoConnection(
  tx: Tx,
  box: SecretBox,
  workspaceId: string,
  id: string,
): Promise<SsoConnectionView> {
  return viewOf(box, await connectionRow(tx, workspaceId, id));
}

export async function updateSsoConnection(
  tx: Tx,
  box: SecretBox,
  actor: Actor,
  id: string,
  input: SsoUpdate,
  outbound: OutboundPolicy,
): Promise<SsoConnectionView> {
  const current = await connectionRow(tx, actor.workspaceId, id);
  const before = await viewOf(box, current);
  assertComplete(
    {
      provider: current.provider,
      issuer: input.issuer ?? current.issuer,
      jwks_url: input.jwks_url ?? current.jwks_url ?? undefined,
      client_id: input.client_id ?? current.client_id ?? undefined,
      sso_url: input.sso_url ?? current.sso_url ?? undefined,
      idp_certificate: input.idp_certificate ?? current.idp_certificate ?? undefined,
      metadata_url: input.metadata_url,
    },
    outbound,
  );
  const sealed = input.client_secret ? await box.seal(secretContext(id), input.client_secret) : null;
  const [row] = await tx.query<ConnectionRow>(
    `update sso_connections set
        display_name = coalesce($3, display_name), issuer = coalesce($4, issuer), audience = coalesce($5, audience),
        jwks_url = coalesce($6, jwks_url), client_id = coalesce($7, client_id),
        client_secret_encrypted = coalesce($8, client_secret_encrypted), sso_url = coalesce($9, sso_url),
        idp_certificate = coalesce($10, idp_certificate), jit_provisioning = coalesce($11, jit_provisioning),
        default_role = coalesce($12, default_role), groups_claim = coalesce($13, groups_claim),
        role_mapping = coalesce($14::jsonb, role_mapping), metadata_url = coalesce($15, metadata_url),
        status = coalesce($16, status)
      where workspace_id = $1 and id = $2 returning ${CONNECTION_COLUMNS}`,
    [actor.workspaceId, id, ...settingValues(input, sealed), input.status ?? null],
  );
  const updated = await viewOf(box, row as ConnectionRow);
  await auditActor(
    tx,
    actor,
    "sso_connection.updated",
    "sso_connection",
    id,
    { ...auditView(updated), client_secret_changed: Boolean(input.client_secret) },
    auditView(before),
  );
  return updated;
}

/** Deletes the connection, the identities linked through it and its flows in progress. */
export async function deleteSsoConnection(tx: Tx, actor: Actor, id: string): Promise<void> {
  const row = await connectionRow(tx, actor.workspaceId, id);
  const unlinked = await tx.query<{ id: string }>(
    "delete from sso_identities where workspace_id = $1 and connection_id = $2 returning id",
    [actor.workspaceId, id],
  );
  await tx.query("delete from sso_connections where workspace_id = $1 and id = $2", [actor.workspaceId, id]);
  await auditActor(tx, actor, "sso_connection.deleted", "sso_connection", id, undefined, {
    provider: row.provider,
    issuer: row.issuer,
    display_name: row.display_name,
    identities_unlinked: unlinked.length,
  });
}

/** The connection's client secret, opened for a flow that authenticates to the IdP's token endpoint. */
export async function clientSecretOf(box: SecretBox, row: ConnectionRow): Promise<string | undefined> {
  return row.client_secret_encrypted ? box.open(secretContext(row.id), row.client_secret_encrypted) : undefined;
}
