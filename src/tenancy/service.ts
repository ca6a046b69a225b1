// Tenant lifecycle for operators: onboarding, workspaces, offboarding and restoring clients. The work is
// done by the PL/pgSQL functions of migration 0007 (also callable from psql); this module validates input,
// calls them on the owner connection and turns database errors into the error catalogue.
import type { Engine } from "../db/engine.ts";
import { AppError } from "../errors.ts";
import { withTenant } from "../db/tenant.ts";
import { newToken } from "../identity/tokens.ts";
import { ensureActiveDek } from "../secrets/envelope.ts";
import type { KekProvider, LocalKeyRing } from "../secrets/keyring.ts";
import { rotateKek } from "../secrets/rotation.ts";
import { logKekRotation } from "../audit/operator-log.ts";
import { sweepAuditQueue } from "../audit/sequencer.ts";
import { erasureLedger } from "../backups/ledger.ts";
import { carryBackups, type BackupPlace } from "../backups/rekey.ts";

export const SLUG = /^[a-z0-9][a-z0-9-]{0,38}[a-z0-9]$/;
export const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

export interface OnboardInput {
  slug: string;
  name: string;
  adminEmail: string;
  workspace?: string;
  ifNotExists?: boolean;
  actor?: string;
  /** Days the admin token stays valid (CAUSELOOP_ONBOARDING_TOKEN_DAYS, default 7); 0: it never expires. */
  adminTokenDays?: number;
}

/** The onboarding admin token's lifetime when the caller names none. */
export const DEFAULT_ADMIN_TOKEN_DAYS = 7;

export interface OnboardResult {
  organization_id: string;
  workspace_id: string;
  admin_email: string;
  /** Shown once; absent when --if-not-exists found the organization already there. */
  admin_token?: string;
  /** When the admin token stops working (null: never, with adminTokenDays 0). */
  admin_token_expires_at?: string | null;
  /**
   * Shown once: the admin's account setup token, for `POST /v1/auth/accept-invite {invite_token, password}` to set
   * the first password (valid 7 days). Absent when the admin's account already exists (it signs in as before).
   */
  setup_token?: string;
  user_id?: string;
  token_id?: string;
  slug: string;
  existed?: boolean;
}

export interface OffboardingRecord {
  id: string;
  organization_id: string;
  slug: string;
  mode: "soft" | "purge" | "restore";
  status: string;
  workspace_ids: string[];
  row_counts: Record<string, number>;
  performed_by: string;
  started_at: string;
  completed_at: string | null;
  already_purged?: boolean;
}

export interface TenantRow {
  organization_id: string;
  slug: string;
  name: string;
  status: string;
  workspace_id: string | null;
  workspace_slug: string | null;
  workspace_status: string | null;
  members: number;
  created_at: string;
}

/** Database errors from the lifecycle functions, as catalogue errors (the message is ours, never SQL). */
export function lifecycleError(error: unknown): unknown {
  const code = (error as { code?: string }).code;
  const message = (error as Error).message ?? "";
  switch (code) {
    case "23505":
      return new AppError("already_exists", message);
    case "22023":
      return new AppError("validation_failed", message);
    case "P0002":
      return new AppError("not_found", message);
    case "55000":
      return new AppError("conflict", message);
    default:
      return error;
  }
}

function validateSlug(kind: string, slug: string): void {
  if (!SLUG.test(slug)) {
    throw new AppError(
      "validation_failed",
      `${kind} slug "${slug}" is invalid: use 2-40 lowercase letters, digits and hyphens, not starting or ending with a hyphen`,
    );
  }
}

/** One lifecycle function (its own transaction); the audit events it queued are chained before returning. */
async function call<T>(engine: Engine, sql: string, params: unknown[]): Promise<T> {
  let rows: { result: T }[];
  try {
    rows = await engine.query<{ result: T }>(sql, params);
  } catch (error) {
    throw lifecycleError(error);
  }
  await sweepAuditQueue(engine);
  return rows[0]?.result as T;
}

/** Gives a new workspace its data key right away (it would otherwise be created on first use). */
async function createDataKey(engine: Engine, kek: KekProvider | undefined, workspaceId: string): Promise<void> {
  if (kek) await withTenant(engine, workspaceId, (tx) => ensureActiveDek(tx, kek, workspaceId));
}

export async function onboard(engine: Engine, input: OnboardInput, kek?: KekProvider): Promise<OnboardResult> {
  validateSlug("organization", input.slug);
  validateSlug("workspace", input.workspace ?? "production");
  if (!input.name?.trim())
    throw new AppError("validation_failed", "--name is required (the organization's display name)");
  const email = input.adminEmail?.trim().toLowerCase() ?? "";
  if (!EMAIL.test(email) || email.length > 254)
    throw new AppError("validation_failed", "--admin-email is not a valid email address");
  if (input.ifNotExists) {
    const existing = await engine.query<{ organization_id: string; workspace_id: string }>(
      `select o.id as organization_id, w.id as workspace_id from organizations o
         left join workspaces w on w.organization_id = o.id
        where o.slug = $1 order by w.created_at limit 1`,
      [input.slug],
    );
    if (existing[0]) return { ...existing[0], admin_email: email, slug: input.slug, existed: true };
  }
  const result = await call<OnboardResult>(engine, "select onboard_client($1, $2, $3, $4, $5) as result", [
    input.slug,
    input.name.trim(),
    email,
    input.workspace ?? "production",
    input.actor ?? null,
  ]);
  await createDataKey(engine, kek, result.workspace_id);
  const expiresAt = await limitAdminToken(engine, result, input.adminTokenDays ?? DEFAULT_ADMIN_TOKEN_DAYS);
  const setupToken = await issueSetupToken(engine, result.workspace_id, result.user_id as string);
  const answer = { ...result, admin_token_expires_at: expiresAt };
  return setupToken ? { ...answer, setup_token: setupToken } : answer;
}

/** The onboarding admin token is owner-level with every scope: it expires (it used to live forever). */
async function limitAdminToken(engine: Engine, result: OnboardResult, days: number): Promise<string | null> {
  if (!days || !result.token_id) return null;
  return withTenant(engine, result.workspace_id, async (tx) => {
    const [row] = await tx.query<{ expires_at: Date }>(
      "update personal_access_tokens set expires_at = now() + make_interval(days => $3::int) where workspace_id = $1 and id = $2 returning expires_at",
      [result.workspace_id, result.token_id, days],
    );
    return row ? new Date(row.expires_at).toISOString() : null;
  });
}

/**
 * The onboarded admin holds only a token (which cannot set a password: account-level changes need an
 * interactive session). A new account gets a one-time setup token on its owner membership instead, redeemed
 * like an invitation; an account that already exists elsewhere gets none.
 */
async function issueSetupToken(engine: Engine, workspaceId: string, userId: string): Promise<string | undefined> {
  return withTenant(engine, workspaceId, async (tx) => {
    const [fresh] = await tx.query<{ ok: boolean }>("select auth_account_is_new($1) as ok", [userId]);
    if (!fresh?.ok) return undefined;
    const setup = newToken("inv", workspaceId);
    await tx.query(
      "update memberships set invite_token_hash = $3, invite_expires_at = now() + interval '7 days' where workspace_id = $1 and user_id = $2 and status = 'active'",
      [workspaceId, userId, setup.hash],
    );
    return setup.token;
  });
}

export async function addWorkspace(
  engine: Engine,
  orgSlug: string,
  workspaceSlug: string,
  name?: string,
  actor?: string,
  kek?: KekProvider,
): Promise<{ workspace_id: string }> {
  validateSlug("workspace", workspaceSlug);
  const id = await call<string>(engine, "select add_workspace($1, $2, $3, $4) as result", [
    orgSlug,
    workspaceSlug,
    name ?? null,
    actor ?? null,
  ]);
  await createDataKey(engine, kek, id);
  return { workspace_id: id };
}

export function offboard(
  engine: Engine,
  slug: string,
  mode: "soft" | "purge",
  actor?: string,
): Promise<OffboardingRecord> {
  if (mode !== "soft" && mode !== "purge")
    throw new AppError("validation_failed", `--mode must be soft or purge (got "${mode}")`);
  return call<OffboardingRecord>(engine, "select offboard_client($1, $2, $3) as result", [slug, mode, actor ?? null]);
}

/**
 * Offboarding as the operator runs it. A purge also crypto-shreds: with a file-based key ring, every remaining
 * data key is re-wrapped under a new master key version and the old version is dropped, so a copy taken before
 * the purge no longer opens with the current ring (with CAUSELOOP_MASTER_KEY it is a manual step).
 */
export async function offboardClient(
  engine: Engine,
  slug: string,
  mode: "soft" | "purge",
  actor: string,
  ring: () => Promise<LocalKeyRing>,
  backups?: BackupPlace,
): Promise<OffboardingRecord & { kek_rotated?: boolean; kek_current_version?: number }> {
  const record = await offboard(engine, slug, mode, actor);
  if (mode === "soft") await recordInComplianceLog(engine, record, "soft", actor);
  if (mode !== "purge" || record.already_purged) return record;
  // Beside the backups: restoring one taken before this purge purges the tenant again (src/backups/replay.ts).
  await (backups && erasureLedger(backups.dir, backups.signer, backups.offsite))?.append({
    kind: "tenant.purged",
    slug: record.slug,
    organization_id: record.organization_id,
    workspace_ids: record.workspace_ids ?? [],
    offboarding_record: record.id,
  });
  const keys = await ring().catch(() => undefined);
  if (!keys?.file) return { ...record, kek_rotated: false };
  const rotation = await rotateKek(engine, keys, {
    generate: true,
    actor,
    beforeDrop: backups ? carryBackups(engine, backups) : undefined,
  });
  await logKekRotation(engine, actor, rotation, { generated: true, reason: `purge of ${slug}` });
  return { ...record, kek_rotated: true, kek_current_version: rotation.kekCurrentVersion };
}

export async function restore(engine: Engine, slug: string, actor?: string): Promise<OffboardingRecord> {
  const record = await call<OffboardingRecord>(engine, "select restore_client($1, $2) as result", [
    slug,
    actor ?? null,
  ]);
  await recordInComplianceLog(engine, record, "restore", actor);
  return record;
}

/**
 * A soft offboarding or a restore, in each workspace's compliance log (a purge deletes that log with the
 * tenant; offboarding_records and the operator log keep it).
 */
async function recordInComplianceLog(
  engine: Engine,
  record: OffboardingRecord,
  mode: "soft" | "restore",
  actor: string | undefined,
): Promise<void> {
  for (const ws of record.workspace_ids ?? [])
    await withTenant(engine, ws, (tx) =>
      tx.query(
        "insert into compliance_log (workspace_id, id, kind, actor_id, details) values ($1, new_id('cpl'), 'offboarding', $2, $3::jsonb)",
        [ws, actor ?? null, JSON.stringify({ mode, offboarding_record: record.id })],
      ),
    );
}

export async function listTenants(engine: Engine): Promise<TenantRow[]> {
  const rows = await engine.query<TenantRow & { created_at: Date }>(
    `select o.id as organization_id, o.slug, o.name, o.status, w.id as workspace_id, w.slug as workspace_slug,
            w.status as workspace_status,
            (select count(*)::int from memberships m where m.workspace_id = w.id and m.status = 'active') as members,
            coalesce(w.created_at, o.created_at) as created_at
       from organizations o left join workspaces w on w.organization_id = o.id
      order by o.slug, w.slug`,
  );
  return rows.map((r) => ({ ...r, created_at: new Date(r.created_at).toISOString() }));
}

export async function offboardingRecords(engine: Engine, slug?: string): Promise<OffboardingRecord[]> {
  return engine.query<OffboardingRecord>(
    `select id, organization_id, slug, mode, status, workspace_ids, row_counts, performed_by, started_at, completed_at
       from offboarding_records where $1::text is null or slug = $1 order by started_at desc`,
    [slug ?? null],
  );
}
