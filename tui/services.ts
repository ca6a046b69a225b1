// What the operator console can do: the same operator operations as the CLI (so the same services, the
// same audit rows), behind a typed interface that tests fake.
import type { Config } from "../src/config.ts";
import { operatorSession, type OperationName } from "../src/operator/operations.ts";
import type { DoctorReport, RoleReport, RoleSetupResult } from "../src/db/system.ts";
import type { MigrationStatus } from "../src/db/migrate.ts";
import type { OffboardingRecord, OnboardResult, TenantRow } from "../src/tenancy/service.ts";
import type { RtbfView } from "../src/governance/rtbf.ts";
import type { VerifyResult } from "../src/audit/chain.ts";
import type { JobRun, JobStatus } from "../src/jobs/scheduler.ts";

export type RtbfRow = RtbfView & { workspace_id: string };

export interface TuiServices {
  engine: string;
  doctor(): Promise<DoctorReport>;
  migrations(): Promise<{ migrations: MigrationStatus[]; pending: number; error?: string }>;
  migrate(): Promise<{ applied: { name: string; durationMs: number }[] }>;
  roleCheck(): Promise<RoleReport>;
  roleSetup(): Promise<RoleSetupResult>;
  tenants(): Promise<TenantRow[]>;
  onboard(input: { slug: string; name: string; adminEmail: string }): Promise<OnboardResult>;
  offboard(slug: string, mode: "soft" | "purge"): Promise<OffboardingRecord>;
  rtbfQueue(): Promise<RtbfRow[]>;
  rtbfDecide(id: string, decision: "approve" | "reject" | "hold", reason?: string): Promise<RtbfView>;
  auditVerify(): Promise<{ ok: boolean; workspaces: VerifyResult[]; operator_log?: VerifyResult }>;
  jobs(): Promise<{ jobs: JobStatus[]; recent: JobRun[] }>;
  runJob(name: string): Promise<JobRun>;
  /** Releases the database (the PGlite data dir) when the console exits. */
  close?(): Promise<void>;
}

export function operatorServices(config: Config): TuiServices {
  // One session for the whole console: on a PGlite data dir nobody serves, a screen's several requests share
  // one open of the database instead of paying about half a second each.
  const session = operatorSession(config);
  const op = <T>(name: OperationName, args: Record<string, unknown> = {}) => session.run(name, args) as Promise<T>;
  return {
    close: () => session.close(),
    engine: config.engine === "pglite" ? `PGlite (embedded) in ${config.dataDir}` : `PostgreSQL ${config.databaseUrl?.host}:${config.databaseUrl?.port}/${config.databaseUrl?.database}`,
    doctor: () => op("doctor"),
    migrations: () => op("migrate.status"),
    migrate: () => op("migrate"),
    roleCheck: () => op("roles.check"),
    roleSetup: () => op("roles.setup", { rotate: config.engine === "postgres" }),
    tenants: () => op("tenants.list"),
    onboard: (input) => op("onboard", { ...input }),
    offboard: (slug, mode) => op("offboard", { slug, mode }),
    rtbfQueue: () => op("rtbf.list"),
    rtbfDecide: (id, decision, reason) => op("rtbf.decide", { id, decision, reason }),
    auditVerify: () => op("audit.verify"),
    jobs: () => op("jobs.list"),
    runJob: (name) => op("jobs.run", { name }),
  };
}
