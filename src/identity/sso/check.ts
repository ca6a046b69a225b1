// "Test connection": what an administrator runs after configuring an IdP. Every fetch goes through the SSRF
// guard under the serving app's policy; the answer names each check and why it failed, never an address.
import type { Tx } from "../../db/engine.ts";
import { appendAudit, type Actor } from "../../audit/service.ts";
import { guardedFetch } from "../../net/fetch.ts";
import { currentOutbound } from "../../net/context.ts";
import { X509Certificate } from "node:crypto";
import { certificateFingerprint, type ConnectionRow } from "./connections.ts";
import { fetchIdpMetadata } from "./idp-metadata.ts";
import { discover, outboundRefusal } from "./oidc.ts";

interface Check {
  name: string;
  ok: boolean;
  detail: string | null;
}

const why = (error: unknown) =>
  outboundRefusal(error)?.message ?? (error instanceof Error ? error.message.slice(0, 300) : "failed");

async function keySet(url: string): Promise<Check> {
  try {
    const response = await guardedFetch(url, { headers: { accept: "application/json" } }, currentOutbound());
    const body = (await response.json()) as { keys?: unknown[] };
    const count = Array.isArray(body.keys) ? body.keys.length : 0;
    return { name: "jwks", ok: response.ok && count > 0, detail: `${count} key(s)` };
  } catch (error) {
    return { name: "jwks", ok: false, detail: why(error) };
  }
}

async function oidcChecks(row: ConnectionRow, secret: string | undefined): Promise<Check[]> {
  try {
    const config = await discover(row, secret, currentOutbound());
    const jwksUri = config.serverMetadata().jwks_uri;
    const checks: Check[] = [{ name: "discovery", ok: true, detail: config.serverMetadata().issuer }];
    checks.push(jwksUri ? await keySet(jwksUri) : { name: "jwks", ok: false, detail: "no jwks_uri discovered" });
    return checks;
  } catch (error) {
    return [{ name: "discovery", ok: false, detail: why(error) }];
  }
}

/** The metadata as the IdP publishes it now: still readable, still the certificate the connection trusts. */
async function metadataCheck(row: ConnectionRow, url: string): Promise<Check> {
  try {
    const metadata = await fetchIdpMetadata(url, currentOutbound());
    const same = certificateFingerprint(metadata.certificate) === certificateFingerprint(row.idp_certificate ?? "");
    return {
      name: "metadata",
      ok: same,
      detail: same ? metadata.entityId : "the IdP now signs with another certificate",
    };
  } catch (error) {
    return { name: "metadata", ok: false, detail: why(error) };
  }
}

async function samlChecks(row: ConnectionRow): Promise<Check[]> {
  const metadata = row.metadata_url ? [await metadataCheck(row, row.metadata_url)] : [];
  return [...metadata, ...certificateChecks(row)];
}

function certificateChecks(row: ConnectionRow): Check[] {
  try {
    const cert = new X509Certificate(row.idp_certificate ?? "");
    const now = Date.now();
    const valid = new Date(cert.validFrom).getTime() <= now && now < new Date(cert.validTo).getTime();
    return [{ name: "certificate", ok: valid, detail: `valid until ${new Date(cert.validTo).toISOString()}` }];
  } catch {
    return [{ name: "certificate", ok: false, detail: "not a PEM certificate" }];
  }
}

/** Runs the provider's checks (network first, outside any transaction), then audits the outcome. */
export async function testConnection(
  row: ConnectionRow,
  secret: string | undefined,
): Promise<{ ok: boolean; checks: Check[] }> {
  let checks: Check[];
  if (row.provider === "oidc") checks = await oidcChecks(row, secret);
  else if (row.provider === "saml") checks = await samlChecks(row);
  else checks = [row.jwks_url ? await keySet(row.jwks_url) : { name: "jwks", ok: false, detail: "no jwks_url" }];
  return { ok: checks.every((c) => c.ok), checks };
}

export function auditTest(tx: Tx, actor: Actor, id: string, result: { ok: boolean; checks: Check[] }) {
  return appendAudit(tx, {
    workspaceId: actor.workspaceId,
    action: "sso_connection.tested",
    actorId: actor.actorId,
    actorType: actor.actorType,
    targetType: "sso_connection",
    targetId: id,
    after: { ok: result.ok, failed: result.checks.filter((c) => !c.ok).map((c) => c.name) },
    context: actor.context,
  });
}
