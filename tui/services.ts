// What the operator console can do: the same operator operations as the CLI (so the same services, the
// same audit rows), behind a typed interface that tests fake.
import type { Config } from "../src/config.ts";
import { operatorSession } from "../src/operator/transport.ts";
import type { DoctorReport, RoleReport, RoleSetupResult } from "../src/db/system.ts";
import type { MigrationStatus } from "../src/db/migrate.ts";
import type { OffboardingRecord, OnboardResult, TenantRow } from "../src/tenancy/service.ts";
import type { RtbfView } from "../src/governance/rtbf.ts";
import type { VerifyResult } from "../src/audit/chain.ts";
import type { JobRun, JobStatus } from "../src/jobs/scheduler.ts";
import type { AlertView } from "../src/security/alerts.ts";
import type { DeliveryView } from "../src/delivery/service.ts";
import type { BackupStaleness } from "../src/backups/staleness.ts";
import type { WorkspaceProblems } from "../src/operator/ops/intelligence.ts";
import type { SsoConnectionView } from "../src/identity/sso/connections.ts";
import type { Static } from "elysia";
import type { RelayTokenView } from "../src/relay/tokens.ts";
import type { Relay } from "../src/relay/schemas.ts";

export type RelayConnection = Static<typeof Relay>;

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
  runJob(name: string): Promise<JobRun | undefined>;
  /** The installation's open security alerts (a failed isolation attestation, a broken audit chain). */
  alerts?(): Promise<AlertView[]>;
  /** The last backup and restore drill, their age and whether that is stale (null before migration 0036). */
  backups?(): Promise<BackupStaleness | null>;
  /** Every workspace's dead-lettered webhook deliveries, newest first. */
  deadLetters?(): Promise<(DeliveryView & { workspace_id: string })[]>;
  /** Sends a dead-lettered delivery again (audited in its workspace). */
  replayDelivery?(workspaceId: string, id: string): Promise<DeliveryView>;
  /** A workspace's problems (the first active one when none is named): clusters with their open issues. */
  problems?(workspace?: string): Promise<WorkspaceProblems>;
  /** Every workspace's SSO connections. */
  ssoConnections?(): Promise<(SsoConnectionView & { workspace_id: string })[]>;
  /** Tests one (discovery and key set, certificate; audited in its workspace). */
  ssoTest?(
    workspaceId: string,
    id: string,
  ): Promise<{ ok: boolean; checks: { name: string; ok: boolean; detail: string | null }[] }>;
  /** Deletes one and unlinks its identities (audited in its workspace). */
  ssoDelete?(workspaceId: string, id: string): Promise<void>;
  /** Configures one from a JSON settings file (what POST /v1/sso-connections takes; audited). */
  ssoCreate?(workspaceId: string, settingsFile: string): Promise<SsoConnectionView>;
  /** Disables or enables one (audited). */
  ssoSetStatus?(workspaceId: string, id: string, status: "active" | "disabled"): Promise<SsoConnectionView>;
  /** A workspace's relay tokens, newest first, revoked ones too. */
  relayTokens?(workspaceId: string): Promise<RelayTokenView[]>;
  /** Creates a relay token; its secret is in the answer, the only time it is shown (audited). */
  relayTokenCreate?(workspaceId: string, name: string): Promise<RelayTokenView & { token: string }>;
  /** A new secret on the same token (shown once); the old one stops at once (audited). */
  relayTokenRotate?(workspaceId: string, id: string): Promise<RelayTokenView & { token: string }>;
  /** Revokes one; its relay is cut off at its next heartbeat (audited). */
  relayTokenRevoke?(workspaceId: string, id: string): Promise<void>;
  /** A workspace's relay connections, newest first. */
  relayConnections?(workspaceId: string): Promise<RelayConnection[]>;
  /** Releases the database (the PGlite data dir) when the console exits. */
  close?(): Promise<void>;
}

export function operatorServices(config: Config): TuiServices {
  // One session for the whole console: on a PGlite data dir nobody serves, a screen's several requests share
  // one open of the database instead of paying about half a second each.
  const session = operatorSession(config);
  return {
    close: () => session.close(),
    engine:
      config.engine === "pglite"
        ? `PGlite (embedded) in ${config.dataDir}`
        : (() => {
            const url = config.databaseUrl ?? config.databaseOwnerUrl;
            return `PostgreSQL ${url?.host}:${url?.port}/${url?.database}`;
          })(),
    doctor: () => session.run("doctor"),
    migrations: () => session.run("migrate.status"),
    migrate: () => session.run("migrate"),
    roleCheck: () => session.run("roles.check"),
    roleSetup: () => session.run("roles.setup", { rotate: config.engine === "postgres" }),
    tenants: () => session.run("tenants.list"),
    onboard: (input) => session.run("onboard", { ...input }),
    offboard: (slug, mode) => session.run("offboard", { slug, mode }),
    rtbfQueue: () => session.run("rtbf.list"),
    rtbfDecide: (id, decision, reason) => session.run("rtbf.decide", { id, decision, reason }),
    auditVerify: () => session.run("audit.verify"),
    jobs: () => session.run("jobs.list"),
    runJob: (name) => session.run("jobs.run", { name }),
    alerts: () => session.run("alerts.list", { status: "open" }),
    backups: () => session.run("backup.status"),
    deadLetters: () => session.run("deliveries.dead", {}),
    replayDelivery: (workspace, id) => session.run("deliveries.replay", { workspace, id }),
    problems: (workspace) => session.run("intelligence.problems", workspace ? { workspace } : {}),
    ssoConnections: async () => {
      const workspaces = (await session.run("tenants.list")).flatMap((t) => (t.workspace_id ? [t.workspace_id] : []));
      const all = [];
      for (const workspace of new Set(workspaces))
        for (const c of await session.run("sso.list", { workspace })) all.push({ ...c, workspace_id: workspace });
      return all;
    },
    ssoTest: (workspace, id) => session.run("sso.test", { workspace, id }),
    ssoDelete: async (workspace, id) => void (await session.run("sso.delete", { workspace, id })),
    ssoCreate: async (workspace, settingsFile) => {
      const file = Bun.file(settingsFile);
      if (!(await file.exists())) throw new Error(`${settingsFile} does not exist`);
      const connection = await file.json().catch(() => {
        throw new Error(`${settingsFile} is not JSON`);
      });
      return session.run("sso.create", { workspace, connection });
    },
    ssoSetStatus: (workspace, id, status) => session.run("sso.update", { workspace, id, changes: { status } }),
    relayTokens: (workspace) => session.run("relay.token.list", { workspace }),
    relayTokenCreate: (workspace, name) => session.run("relay.token.create", { workspace, name }),
    relayTokenRotate: (workspace, id) => session.run("relay.token.rotate", { workspace, id }),
    relayTokenRevoke: async (workspace, id) => void (await session.run("relay.token.revoke", { workspace, id })),
    relayConnections: (workspace) => session.run("relay.list", { workspace }),
  };
}
