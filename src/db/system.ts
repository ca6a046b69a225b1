// Owner-level database operations: role setup and checks, the catalog-driven doctor. Never imported by routes
// (test/unit/imports.test.ts checks): everything here runs with the owner connection or reads the catalog.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import type { Engine, Queryable } from "./engine.ts";
import { schemaIsCurrent } from "./migrate.ts";
import { APP_ROLE } from "./tenant.ts";
import { appendOperatorLog, operatorIdentity } from "../audit/operator-log.ts";

/** Global tables: no workspace_id. Everything else in the schema must be a protected tenant table. */
export const GLOBAL_TABLES = [
  "organizations",
  "users",
  "connector_catalogue",
  "schema_migrations",
  "offboarding_records",
  "auth_throttle",
  "user_mfa_factors",
  "scheduler_runs",
  "operator_log",
  "operator_log_checkpoints",
  "rate_limit_buckets",
  "security_alert_rules",
  "operator_alerts",
] as const;
/** Global tables that hold tenants' data and so keep RLS on (visible only through the current workspace, or not at all). */
const RLS_GLOBAL_TABLES = new Set([
  "organizations",
  "users",
  "offboarding_records",
  "auth_throttle",
  "user_mfa_factors",
  "rate_limit_buckets",
]);
/** The tenant root, keyed by its own id (policies on id instead of workspace_id). */
export const ROOT_TABLES = ["workspaces"] as const;

export interface RoleReport {
  role: string;
  exists: boolean;
  login: boolean;
  superuser: boolean;
  bypassRls: boolean;
  createDb: boolean;
  createRole: boolean;
  privilegedMemberships: string[];
  ok: boolean;
  problems: string[];
}

interface RoleRow extends Record<string, unknown> {
  rolname: string;
  rolcanlogin: boolean;
  rolsuper: boolean;
  rolbypassrls: boolean;
  rolcreatedb: boolean;
  rolcreaterole: boolean;
  privileged: string[] | null;
}

/** Checks a role's attributes: the runtime role must be neither superuser nor BYPASSRLS, nor able to become one. */
export async function checkRole(db: Queryable, role: string | "current_user" = APP_ROLE): Promise<RoleReport> {
  const rows = await db.query<RoleRow>(
    `select r.rolname, r.rolcanlogin, r.rolsuper, r.rolbypassrls, r.rolcreatedb, r.rolcreaterole,
            array(select p.rolname::text from pg_roles p
                   where (p.rolsuper or p.rolbypassrls) and p.oid <> r.oid and pg_has_role(r.oid, p.oid, 'member')) as privileged
       from pg_roles r where r.rolname = ${role === "current_user" ? "current_user" : "$1"}`,
    role === "current_user" ? [] : [role],
  );
  const row = rows[0];
  if (!row) {
    return {
      role,
      exists: false,
      login: false,
      superuser: false,
      bypassRls: false,
      createDb: false,
      createRole: false,
      privilegedMemberships: [],
      ok: false,
      problems: [`role ${role} does not exist (run: causeloop roles setup)`],
    };
  }
  const privileged = row.privileged ?? [];
  const problems: string[] = [];
  if (row.rolsuper) problems.push(`role ${row.rolname} is a superuser`);
  if (row.rolbypassrls) problems.push(`role ${row.rolname} has BYPASSRLS`);
  if (row.rolcreaterole) problems.push(`role ${row.rolname} has CREATEROLE`);
  if (privileged.length)
    problems.push(`role ${row.rolname} is a member of privileged role(s) ${privileged.join(", ")}`);
  return {
    role: row.rolname,
    exists: true,
    login: row.rolcanlogin,
    superuser: row.rolsuper,
    bypassRls: row.rolbypassrls,
    createDb: row.rolcreatedb,
    createRole: row.rolcreaterole,
    privilegedMemberships: privileged,
    ok: problems.length === 0,
    problems,
  };
}

/** A SCRAM-SHA-256 verifier, so the plaintext password never reaches the server or its statement log. */
export function scramVerifier(password: string, iterations = 4096): string {
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password.normalize("NFKC"), salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

export function generatePassword(): string {
  return randomBytes(24).toString("base64url");
}

/** The runtime role's attributes (keyword, pg_roles column): LOGIN on PostgreSQL, every other one off. */
const ROLE_ATTRIBUTES = [
  ["LOGIN", "rolcanlogin"],
  ["SUPERUSER", "rolsuper"],
  ["BYPASSRLS", "rolbypassrls"],
  ["CREATEDB", "rolcreatedb"],
  ["CREATEROLE", "rolcreaterole"],
  ["INHERIT", "rolinherit"],
] as const;

export interface RoleSetupResult {
  role: string;
  created: boolean;
  login: boolean;
  /** Set only when the password was generated here: shown once, never stored by Causeloop. */
  generatedPassword?: string;
  passwordSet: boolean;
}

/**
 * Creates or repairs the runtime role (idempotent), grants DML and default privileges for future tables.
 * On PostgreSQL it also sets or rotates the LOGIN password; PGlite's role never logs in.
 */
export async function setupAppRole(
  engine: Engine,
  options: { password?: string; rotate?: boolean; actor?: string } = {},
): Promise<RoleSetupResult> {
  const [current] = await engine.query<Record<(typeof ROLE_ATTRIBUTES)[number][1], boolean>>(
    `select ${ROLE_ATTRIBUTES.map(([, column]) => column).join(", ")} from pg_roles where rolname = $1`,
    [APP_ROLE],
  );
  const created = current === undefined;
  const login = engine.kind === "postgres";
  let generatedPassword: string | undefined;
  let password = options.password;
  if (login && !password && (created || options.rotate)) {
    generatedPassword = generatePassword();
    password = generatedPassword;
  }
  const wanted: Record<string, boolean> = { LOGIN: login };
  const attributes = ROLE_ATTRIBUTES.map(([name]) => `${wanted[name] ? "" : "NO"}${name}`).join(" ");
  // ALTER names only what differs: PostgreSQL 16 refuses a non-superuser owner (the managed-database case) that
  // merely mentions SUPERUSER, BYPASSRLS or CREATEDB, even to keep them off.
  const changes = created
    ? []
    : ROLE_ATTRIBUTES.filter(([name, column]) => current[column] !== Boolean(wanted[name])).map(
        ([name]) => `${wanted[name] ? "" : "NO"}${name}`,
      );
  await engine.transaction(async (tx) => {
    if (created) await tx.exec(`CREATE ROLE ${APP_ROLE} ${attributes}`);
    else if (changes.length > 0) await tx.exec(`ALTER ROLE ${APP_ROLE} ${changes.join(" ")}`);
    if (login && password) {
      const [row] = await tx.query<{ stmt: string }>(
        `select format('ALTER ROLE ${APP_ROLE} PASSWORD %L', $1::text) as stmt`,
        [scramVerifier(password)],
      );
      if (row) await tx.exec(row.stmt);
    }
    const [db] = await tx.query<{ name: string }>("select current_database() as name");
    await tx.exec(`
      GRANT CONNECT ON DATABASE "${(db?.name ?? "postgres").replaceAll('"', '""')}" TO ${APP_ROLE};
      GRANT USAGE ON SCHEMA public TO ${APP_ROLE};
      ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${APP_ROLE};
      ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO ${APP_ROLE};
    `);
    // The tenant door switches to the app role on the owner connection too (operator commands): a non-superuser
    // owner needs membership in it. NOINHERIT on the app role keeps the owner's rights from flowing the other way.
    await tx.exec(`
      DO $grant$
      BEGIN
        IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
          EXECUTE format('GRANT %I TO %I', '${APP_ROLE}', current_user);
        END IF;
      END $grant$;
    `);
    // Tenant tables get their grants from protect_tenant_table(); re-apply in case a table was recreated.
    const tables = await tx.query<{ name: string }>(tenantTablesSql);
    for (const t of tables) await tx.query("select protect_tenant_table($1::regclass)", [t.name]);
    await appendOperatorLog(tx, {
      action: "role.setup",
      actor: options.actor ?? operatorIdentity(),
      targetType: "role",
      targetId: APP_ROLE,
      after: {
        created,
        login,
        password_changed: Boolean(login && password),
        password_generated: Boolean(generatedPassword),
        attributes,
      },
    });
  });
  return { role: APP_ROLE, created, login, generatedPassword, passwordSet: Boolean(login && password) };
}

const tenantTablesSql = `
  select c.relname::text as name
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
   where n.nspname = current_schema() and c.relkind in ('r', 'p')
     and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'workspace_id' and not a.attisdropped)
   order by 1`;

export interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface DoctorReport {
  ok: boolean;
  engine: string;
  tenantTables: number;
  protectedTables: number;
  checks: DoctorCheck[];
}

interface TableRow extends Record<string, unknown> {
  name: string;
  has_workspace_id: boolean;
  rls: boolean;
  force: boolean;
  policies: string[] | null;
  indexes: string[] | null;
}

/** The catalog-driven health check: every problem named, nothing hard-coded about which tenant tables exist. */
export async function doctor(
  db: Queryable,
  options: { engineName: string; runtimeRole: string | "current_user" },
): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  try {
    await db.query("select 1");
    checks.push({ name: "database reachable", ok: true, detail: options.engineName });
  } catch (error) {
    checks.push({ name: "database reachable", ok: false, detail: (error as Error).message });
    return { ok: false, engine: options.engineName, tenantTables: 0, protectedTables: 0, checks };
  }

  const schema = await schemaIsCurrent(db);
  checks.push({
    name: "migrations current",
    ok: schema.current,
    detail: schema.current
      ? "all applied"
      : `${[...schema.problems, ...schema.pending.map((p) => `${p} pending`)].join("; ")} (run: causeloop migrate)`,
  });

  const role = await checkRole(db, options.runtimeRole);
  checks.push({
    name: `runtime role ${role.role}`,
    ok: role.ok,
    detail: role.ok ? "not superuser, no BYPASSRLS" : role.problems.join("; "),
  });

  const tables = await db.query<TableRow>(`
    select c.relname::text as name,
           exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'workspace_id' and not a.attisdropped) as has_workspace_id,
           c.relrowsecurity as rls, c.relforcerowsecurity as force,
           array(select p.polcmd::text || ':' || coalesce(pg_get_expr(p.polqual, p.polrelid, true), '') || '|' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid, true), '')
                   from pg_policy p where p.polrelid = c.oid) as policies,
           array(select (select a.attname::text from pg_attribute a where a.attrelid = c.oid and a.attnum = i.indkey[0])
                   from pg_index i where i.indrelid = c.oid) as indexes
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = current_schema() and c.relkind in ('r', 'p')
     order by 1`);

  const globals = new Set<string>(GLOBAL_TABLES);
  const roots = new Set<string>(ROOT_TABLES);
  let tenantCount = 0;
  let protectedCount = 0;
  for (const t of tables) {
    if (globals.has(t.name)) {
      // Global tables holding tenants' people or records must not be readable across tenants either.
      if (RLS_GLOBAL_TABLES.has(t.name) && (!t.rls || !t.force)) {
        checks.push({
          name: `table ${t.name}`,
          ok: false,
          detail: "global table with tenant data: row-level security must be enabled and forced",
        });
      }
      continue;
    }
    if (!t.has_workspace_id && !roots.has(t.name)) {
      checks.push({
        name: `table ${t.name}`,
        ok: false,
        detail: "neither a tenant table (no workspace_id) nor on the global list",
      });
      continue;
    }
    tenantCount++;
    const problems = tenantTableProblems(t, roots.has(t.name) ? "id" : "workspace_id");
    if (problems.length === 0) protectedCount++;
    else checks.push({ name: `table ${t.name}`, ok: false, detail: problems.join("; ") });
  }
  checks.push({
    name: "tenant tables protected",
    ok: tenantCount > 0 && protectedCount === tenantCount,
    detail: `${protectedCount}/${tenantCount} with RLS enabled and forced, the four policies and an index leading with workspace_id`,
  });

  for (const table of ["audit_log", "audit_checkpoints", "operator_log", "operator_log_checkpoints"]) {
    const trigger = await db.query<{ enabled: string }>(
      `select t.tgenabled::text as enabled from pg_trigger t where t.tgrelid = to_regclass($1) and t.tgname = $2`,
      [table, `${table}_append_only`],
    );
    const triggerOk = trigger[0] !== undefined && trigger[0].enabled !== "D";
    checks.push({
      name: `${table} append-only trigger`,
      ok: triggerOk,
      detail: triggerOk ? "present and enabled" : trigger[0] ? "disabled" : "missing",
    });
  }
  const [exposed] = await db
    .query<{ privileges: string[] | null }>(
      `select array_remove(array[
        case when has_table_privilege($1, t.oid, 'SELECT') then 'SELECT' end,
        case when has_table_privilege($1, t.oid, 'INSERT') then 'INSERT' end,
        case when has_table_privilege($1, t.oid, 'UPDATE') then 'UPDATE' end,
        case when has_table_privilege($1, t.oid, 'DELETE') then 'DELETE' end], null) as privileges
       from pg_class t where t.oid = to_regclass('operator_log')`,
      [APP_ROLE],
    )
    .catch(() => [{ privileges: null }]);
  const hidden = exposed !== undefined && (exposed.privileges ?? []).length === 0;
  checks.push({
    name: "operator_log hidden from the runtime role",
    ok: hidden,
    detail: hidden
      ? `${APP_ROLE} has no privilege on it`
      : exposed
        ? `${APP_ROLE} has ${(exposed.privileges ?? []).join(", ")} on it`
        : "missing",
  });

  // A completed erasure whose VACUUM has not run leaves the erased values in dead tuples (see rtbf vacuum).
  const [vacuum] = await db.query<{ n: number }>("select rtbf_vacuum_pending_count() as n").catch(() => []);
  if (vacuum) {
    checks.push({
      name: "erasures vacuumed",
      ok: vacuum.n === 0,
      detail:
        vacuum.n === 0
          ? "no completed erasure waits for its VACUUM"
          : `${vacuum.n} completed erasure(s) still leave the erased values in dead tuples: run 'causeloop rtbf vacuum' with DATABASE_OWNER_URL set (serve does it itself when DATABASE_OWNER_URL is set)`,
    });
  }
  return {
    ok: checks.every((c) => c.ok),
    engine: options.engineName,
    tenantTables: tenantCount,
    protectedTables: protectedCount,
    checks,
  };
}

const POLICY_COMMANDS: Record<string, string> = { r: "select", a: "insert", w: "update", d: "delete" };

function tenantTableProblems(t: TableRow, key: string): string[] {
  const problems: string[] = [];
  if (!t.rls) problems.push("row-level security not enabled");
  if (!t.force) problems.push("row-level security not forced");
  // Compared with parentheses and white space removed, and as the whole expression: `... OR true` fails.
  const normalize = (expr: string) => expr.replace(/[\s()]/g, "");
  const expected = normalize(`${key} = (SELECT app_current_tenant() AS app_current_tenant)`);
  const found = new Set<string>();
  for (const policy of t.policies ?? []) {
    const [cmd, exprs] = [policy.slice(0, 1), policy.slice(2)];
    const [using, check] = exprs.split("|");
    const name = POLICY_COMMANDS[cmd];
    const usesTenant = (expr: string | undefined) => expr !== undefined && normalize(expr) === expected;
    if (!name) {
      problems.push("has an ALL policy (use the four per-command policies)");
      continue;
    }
    const ok =
      name === "insert"
        ? usesTenant(check)
        : name === "update"
          ? usesTenant(using) && usesTenant(check)
          : usesTenant(using);
    if (ok) found.add(name);
    else problems.push(`${name} policy does not restrict to ${key} = app_current_tenant()`);
  }
  const required = key === "id" ? ["select", "update"] : ["select", "insert", "update", "delete"];
  for (const cmd of required) if (!found.has(cmd)) problems.push(`no ${cmd} policy`);
  if (!(t.indexes ?? []).includes(key)) problems.push(`no index leading with ${key}`);
  if (key === "workspace_id") {
    const stray = (t.indexes ?? []).filter((col) => col !== "workspace_id");
    if (stray.length) problems.push(`index(es) not leading with workspace_id (on ${stray.join(", ")})`);
  }
  return problems;
}
