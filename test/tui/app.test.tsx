// The console's screens with faked services (through the typed interface): frames asserted, keys sent.
import { expect, test } from "bun:test";
import { render } from "ink-testing-library";
import { App } from "../../tui/app.tsx";
import type { RtbfRow, TuiServices } from "../../tui/services.ts";

const tick = (ms = 30) => new Promise((resolve) => setTimeout(resolve, ms));
/** Waits (up to 1.5 s) until the condition holds: on a loaded machine a fixed pause is not enough. */
async function waitFor(condition: () => boolean | undefined): Promise<void> {
  for (let i = 0; i < 75 && !condition(); i++) await tick(20);
}

function fakeServices(overrides: Partial<TuiServices> = {}) {
  const calls: string[] = [];
  const rtbf: RtbfRow[] = [
    {
      id: "rtbf_late",
      workspace_id: "ws_a",
      subject_ref: "a".repeat(64),
      mode: "erasure",
      status: "received",
      reason: "email",
      status_reason: null,
      received_at: "2026-10-01T00:00:00Z",
      due_at: "2026-10-31T00:00:00Z",
      overdue: true,
      decided_at: null,
      completed_at: null,
      result: null,
      vacuum_status: null,
      vacuum_tables: null,
      vacuumed_at: null,
    },
    {
      id: "rtbf_new",
      workspace_id: "ws_a",
      subject_ref: "b".repeat(64),
      mode: "erasure",
      status: "received",
      reason: null,
      status_reason: null,
      received_at: "2026-11-20T00:00:00Z",
      due_at: "2026-12-20T00:00:00Z",
      overdue: false,
      decided_at: null,
      completed_at: null,
      result: null,
      vacuum_status: null,
      vacuum_tables: null,
      vacuumed_at: null,
    },
  ];
  const services: TuiServices = {
    engine: "PGlite (test)",
    doctor: async () => ({
      ok: false,
      engine: "t",
      tenantTables: 26,
      protectedTables: 25,
      checks: [{ name: "table patterns", ok: false, detail: "row-level security not forced" }],
    }),
    migrations: async () => ({
      migrations: [
        { name: "0001_foundation", sha256: "f".repeat(64), state: "applied" },
        { name: "0002_next", sha256: "e".repeat(64), state: "pending" },
      ],
      pending: 1,
    }),
    migrate: async () => (calls.push("migrate"), { applied: [{ name: "0002_next", durationMs: 3 }] }),
    roleCheck: async () => ({
      role: "causeloop_app",
      exists: true,
      login: true,
      superuser: false,
      bypassRls: false,
      createDb: false,
      createRole: false,
      privilegedMemberships: [],
      ok: true,
      problems: [],
    }),
    roleSetup: async () => (
      calls.push("roleSetup"),
      { role: "causeloop_app", created: false, login: true, generatedPassword: "generated-pass-123", passwordSet: true }
    ),
    tenants: async () => [
      {
        organization_id: "org_1",
        slug: "acme",
        name: "Acme",
        status: "active",
        workspace_id: "ws_a",
        workspace_slug: "production",
        workspace_status: "active",
        members: 2,
        created_at: "2026-11-01T00:00:00Z",
      },
    ],
    onboard: async (input) => (
      calls.push(`onboard ${input.slug} ${input.name} ${input.adminEmail}`),
      {
        organization_id: "org_2",
        workspace_id: "ws_b",
        admin_email: input.adminEmail,
        admin_token: "clp_pat_secret_token",
        slug: input.slug,
      }
    ),
    offboard: async (slug, mode) => (
      calls.push(`offboard ${slug} ${mode}`),
      {
        id: "off_1",
        organization_id: "org_1",
        slug,
        mode,
        status: "completed",
        workspace_ids: ["ws_a"],
        row_counts: { issues: 3 },
        performed_by: "op",
        started_at: "",
        completed_at: "",
      }
    ),
    rtbfQueue: async () => rtbf,
    ssoConnections: async () => [
      {
        id: "sso_1",
        workspace_id: "ws_a",
        provider: "oidc",
        display_name: "Okta",
        status: "active",
        issuer: "https://corp.okta.example",
        audience: null,
        jwks_url: null,
        client_id: "causeloop",
        has_client_secret: true,
        client_secret_last4: "1234",
        metadata_url: null,
        sso_url: null,
        idp_certificate_fingerprint: null,
        jit_provisioning: false,
        default_role: "viewer",
        groups_claim: "groups",
        role_mapping: [],
        created_at: "2026-12-01T00:00:00Z",
        updated_at: "2026-12-01T00:00:00Z",
      },
    ],
    ssoTest: async (ws, id) => (
      calls.push(`sso test ${ws} ${id}`),
      { ok: false, checks: [{ name: "discovery", ok: false, detail: "points to 10.0.0.1, a private address" }] }
    ),
    ssoDelete: async (ws, id) => void calls.push(`sso delete ${ws} ${id}`),
    ssoCreate: async (ws, file) => {
      calls.push(`sso create ${ws} ${file}`);
      const [first] = await (services.ssoConnections?.() ?? Promise.resolve([]));
      return { ...(first as NonNullable<typeof first>), id: "sso_2", display_name: "Corp SAML", provider: "saml" };
    },
    ssoSetStatus: async (ws, id, status) => {
      calls.push(`sso ${status} ${ws} ${id}`);
      const [first] = await (services.ssoConnections?.() ?? Promise.resolve([]));
      return { ...(first as NonNullable<typeof first>), status };
    },
    deadLetters: async () => [
      {
        id: "dlv_1",
        webhook_id: "whk_1",
        event_id: "msg_1",
        event_type: "issue.created",
        status: "dead",
        attempts: 9,
        next_attempt_at: null,
        last_status: 503,
        last_error: "the endpoint answered HTTP 503",
        created_at: "2026-11-22T00:00:00Z",
        delivered_at: null,
        dead_at: "2026-11-23T04:00:00Z",
        workspace_id: "ws_a",
      },
    ],
    replayDelivery: async (workspace, id) => (
      calls.push(`replay ${workspace} ${id}`),
      {
        id,
        webhook_id: "whk_1",
        event_id: "msg_1",
        event_type: "issue.created",
        status: "pending",
        attempts: 0,
        next_attempt_at: null,
        last_status: 503,
        last_error: null,
        created_at: "2026-11-22T00:00:00Z",
        delivered_at: null,
        dead_at: null,
      }
    ),
    alerts: async () => [
      {
        id: "alr_1",
        rule: "isolation_attestation_failed",
        severity: "critical",
        summary: "tenant isolation attestation failed: issues",
        details: {},
        occurrences: 2,
        status: "open",
        first_seen_at: "2026-11-22T00:00:00Z",
        last_seen_at: "2026-11-22T00:05:00Z",
        acknowledged_by: null,
        acknowledged_at: null,
        ack_note: null,
      },
    ],
    rtbfDecide: async (id, decision, reason) => (
      calls.push(`${decision} ${id}${reason ? ` ${reason}` : ""}`),
      {
        ...(rtbf.find((r) => r.id === id) as RtbfRow),
        status: decision === "approve" ? "completed" : decision === "reject" ? "rejected" : "on_hold",
      }
    ),
    auditVerify: async () => ({
      ok: false,
      workspaces: [
        {
          ok: false,
          workspace_id: "ws_a",
          rows: 10,
          first_seq: 1,
          last_seq: 10,
          checkpoints: 1,
          last_checkpoint_seq: 8,
          first_broken_seq: 5,
          reason: "row content does not match its hash (altered)",
        },
      ],
    }),
    jobs: async () => ({
      jobs: [
        {
          name: "retention",
          schedule: "30 3 * * *",
          description: "",
          last_run: null,
          next_run: "2026-11-23T03:30:00Z",
        },
      ],
      recent: [],
    }),
    runJob: async (name) => (
      calls.push(`run ${name}`),
      {
        id: "run_1",
        job: name,
        slot: "",
        trigger: "manual",
        instance: "i",
        outcome: "succeeded",
        counts: { issues: 4 },
        error: null,
        started_at: "2026-11-22T00:00:00Z",
        finished_at: null,
      }
    ),
    ...overrides,
  };
  return { services, calls };
}

test("overview shows health, RLS coverage and failures in words, not only colour", async () => {
  const { services } = fakeServices();
  const { lastFrame } = render(<App services={services} />);
  await tick();
  const frame = lastFrame() ?? "";
  expect(frame).toContain("Health: FAIL RLS coverage 25/26");
  expect(frame).toContain("FAIL table patterns: row-level security not forced");
  expect(frame).toContain("1 pending");
  expect(frame).toContain("2 open, 1 OVERDUE");
  expect(frame).toContain("Security alerts: FAIL 1 open");
  expect(frame).toContain("CRITICAL isolation_attestation_failed: tenant isolation attestation failed: issues");
  expect(frame).toContain("q quit");
});

test("overview shows the last backup and drill with their age, STALE in words, and still fits 80x24 with every job", async () => {
  const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();
  const job = (name: string) => ({ name, schedule: "0 * * * *", description: "", last_run: null, next_run: null });
  const { services } = fakeServices({
    backups: async () => ({
      last_backup_at: hoursAgo(40),
      last_backup_age_hours: 40,
      last_drill_at: hoursAgo(24 * 9),
      last_drill_ok: false,
      last_verified_at: null,
      last_verified_age_days: null,
      last_failure_at: null,
      stale: true,
      reasons: ["the newest backup is 40 h old (limit 36 h)"],
      summary: "",
    }),
    jobs: async () => ({
      jobs: [
        ...["exports.expire", "rtbf.resume", "audit.verify", "deliveries.prune", "retention"].map(job),
        ...["backup.create", "backup.drill", "backup.check"].map(job),
      ],
      recent: [],
    }),
  });
  const { lastFrame } = render(<App services={services} />);
  await waitFor(() => lastFrame()?.includes("Backups:"));
  const frame = lastFrame() ?? "";
  expect(frame).toContain("Backups: STALE last backup 40 h ago, last restore drill 9 d ago FAILED");
  expect(frame).not.toContain("Job backup.");
  expect(frame).toContain("Job retention");
  const lines = frame.split("\n");
  expect(lines.length).toBeLessThanOrEqual(24);
  expect(lines.find((l) => l.startsWith("Backups:"))?.length).toBeLessThanOrEqual(80);
});

test("tenants: onboarding form shows the one-time token with a warning; purge needs the slug typed back", async () => {
  const { services, calls } = fakeServices();
  const { lastFrame, stdin } = render(<App services={services} />);
  await tick();
  stdin.write("2");
  await tick();
  stdin.write("n");
  await tick();
  for (const [value, next] of [
    ["globex", "\r"],
    ["Globex Inc", "\r"],
    ["ops@globex.com", "\r"],
  ] as const) {
    stdin.write(value);
    await tick(10);
    stdin.write(next);
    await tick(10);
  }
  await waitFor(() => lastFrame()?.includes("ADMIN TOKEN, shown once"));
  expect(calls).toContain("onboard globex Globex Inc ops@globex.com");
  expect(lastFrame()).toContain("ADMIN TOKEN, shown once");
  expect(lastFrame()).toContain("clp_pat_secret_token");
  await tick(); // the first key after a prompt closes can land before ink listens again
  stdin.write("p");
  await tick();
  stdin.write("acmx");
  await tick(10);
  stdin.write("\r");
  await waitFor(() => lastFrame()?.includes("did not match"));
  expect(calls.some((c) => c.includes("purge"))).toBe(false);
  expect(lastFrame()).toContain("did not match");
  await tick();
  stdin.write("p");
  await tick();
  stdin.write("acme");
  await tick(10);
  stdin.write("\r");
  await waitFor(() => calls.includes("offboard acme purge"));
  expect(calls).toContain("offboard acme purge");
  // Keys pressed while the screen still reloads after an action are not for the next prompt: wait for it.
  await waitFor(() => lastFrame()?.includes("Purged acme"));
  await tick();
  stdin.write("s");
  await waitFor(() => lastFrame()?.includes("revoke every token"));
  stdin.write("n");
  await tick();
  expect(calls.some((c) => c.includes("soft"))).toBe(false);
  stdin.write("s");
  await waitFor(() => lastFrame()?.includes("revoke every token"));
  stdin.write("y");
  await waitFor(() => calls.some((c) => c.includes("soft")));
  expect(calls.some((c) => c.includes("soft"))).toBe(true);
});

test("RTBF queue: overdue marked in words; approve, and reject only with a reason", async () => {
  const { services, calls } = fakeServices();
  const { lastFrame, stdin } = render(<App services={services} />);
  await tick();
  stdin.write("5");
  await waitFor(() => lastFrame()?.includes("> rtbf_late"));
  expect(lastFrame()).toContain("> rtbf_late RECEIVED   due 2026-10-31 OVERDUE");
  stdin.write("a");
  await waitFor(() => lastFrame()?.includes("[y/N]"));
  expect(lastFrame()).toContain("Erase subject");
  expect(lastFrame()).toContain("[y/N]");
  stdin.write("n");
  await waitFor(() => lastFrame()?.includes("Not approved"));
  expect(calls.some((c) => c.startsWith("approve"))).toBe(false);
  expect(lastFrame()).toContain("Not approved");
  await tick();
  stdin.write("a");
  await waitFor(() => lastFrame()?.includes("[y/N]"));
  stdin.write("y");
  await waitFor(() => lastFrame()?.includes("COMPLETED") && !lastFrame()?.includes("typing:"));
  expect(calls).toContain("approve rtbf_late");
  expect(lastFrame()).toContain("COMPLETED");
  // Down to the second request (j clamps at the last row, so pressing again until it shows cannot overshoot;
  // the first key after the confirmation closes can land before ink listens again).
  for (let i = 0; i < 5 && !lastFrame()?.includes("> rtbf_new"); i++) {
    stdin.write("j");
    await waitFor(() => lastFrame()?.includes("> rtbf_new"));
  }
  stdin.write("x");
  await waitFor(() => lastFrame()?.includes("a reason is required"));
  stdin.write("duplicate request");
  await tick(10);
  stdin.write("\r");
  await waitFor(() => calls.includes("reject rtbf_new duplicate request"));
  expect(calls).toContain("reject rtbf_new duplicate request");
});

test("audit, jobs, roles and migrations screens act through the services", async () => {
  const { services, calls } = fakeServices();
  const { lastFrame, stdin } = render(<App services={services} />);
  await tick();
  stdin.write("6");
  await tick();
  stdin.write("v");
  await tick();
  expect(lastFrame()).toContain("TAMPERED ws_a 10 rows, checkpoint at 8, first broken seq 5");
  stdin.write("7");
  await tick();
  stdin.write("r");
  await tick();
  expect(calls).toContain("run retention");
  expect(lastFrame()).toContain("retention: SUCCEEDED");
  stdin.write("3");
  await tick();
  stdin.write("s");
  await tick();
  expect(lastFrame()).toContain("PASSWORD, shown once");
  stdin.write("4");
  await tick();
  expect(lastFrame()).toContain("! 0002_next");
  stdin.write("a");
  await tick();
  expect(calls).toContain("migrate");
  stdin.write("8");
  await waitFor(() => lastFrame()?.includes("> dlv_1"));
  expect(lastFrame()).toContain("> dlv_1 issue.created    9 attempts the endpoint answered HTTP 503 (ws_a)");
  stdin.write("r");
  await waitFor(() => lastFrame()?.includes("queued again"));
  expect(calls).toContain("replay ws_a dlv_1");
  expect(lastFrame()).toContain("dlv_1: queued again (issue.created, same webhook-id msg_1)");
});

test("problems: a workspace's clusters with their events and open issues; Left/Right moves to the next workspace", async () => {
  const asked: (string | undefined)[] = [];
  const workspaces = [
    { id: "ws_a", slug: "main", organization: "acme" },
    { id: "ws_b", slug: "main", organization: "globex" },
  ];
  const { services } = fakeServices({
    problems: async (workspace) => {
      asked.push(workspace);
      const current = workspaces.find((w) => w.id === workspace) ?? workspaces[0];
      return {
        workspace: current ?? null,
        workspaces,
        open_issues: current?.id === "ws_a" ? 2 : 0,
        predictions: { pending: 1, hit: 3, miss: 1 },
        recommendations: 2,
        clusters:
          current?.id === "ws_a"
            ? [
                {
                  cluster_id: "clu_1",
                  template: "Connection to <*> timed out after <*>",
                  event_count: 412,
                  last_seen_at: new Date(Date.now() - 5 * 60_000).toISOString(),
                  open_issues: 1,
                  services: ["checkout"],
                },
              ]
            : [],
      };
    },
  });
  const { lastFrame, stdin } = render(<App services={services} />);
  await tick();
  stdin.write("9");
  await waitFor(() => lastFrame()?.includes("Connection to"));
  let frame = lastFrame() ?? "";
  expect(frame).toContain("acme/main (ws_a)");
  expect(frame).toContain("Open issues: 2");
  expect(frame).toContain("1 pending, 3 hit, 1 missed");
  expect(frame).toMatch(/412\s+1\s+5m ago Connection to <\*> timed out after <\*>/);
  stdin.write("\u001B[C"); // Right
  await waitFor(() => lastFrame()?.includes("globex/main"));
  frame = lastFrame() ?? "";
  expect(frame).toContain("No events yet");
  expect(asked).toEqual([undefined, "ws_b"]);
  // The screen's own lines fit an 80-column terminal (the menu above wraps there).
  const own = frame.split("\n").filter((l) => /acme|globex|Open issues|EVENTS|No events|Connection/.test(l));
  for (const line of own) expect(line.length).toBeLessThanOrEqual(80);
});

test("SSO: every workspace's connections; test shows each check's reason; delete only after y", async () => {
  const { services, calls } = fakeServices();
  const { lastFrame, stdin } = render(<App services={services} />);
  await tick();
  stdin.write("0");
  await waitFor(() => lastFrame()?.includes("> sso_1"));
  expect(lastFrame()).toContain("> sso_1 oidc  active    Okta https://corp.okta.example (ws_a)");
  stdin.write("t");
  await waitFor(() => lastFrame()?.includes("FAILED"));
  expect(calls).toContain("sso test ws_a sso_1");
  expect(lastFrame()).toContain("discovery FAILED (points to 10.0.0.1, a private address)");
  stdin.write("d");
  await tick();
  stdin.write("n");
  await tick();
  expect(lastFrame()).toContain("not deleted");
  stdin.write("d");
  await tick();
  expect(lastFrame()).toContain("y/n");
  stdin.write("y");
  await waitFor(() => lastFrame()?.includes("deleted, its identities unlinked"));
  expect(calls).toContain("sso delete ws_a sso_1");
});

test("SSO: n adds a connection from a settings file (the form owns the keys), e disables the selected one", async () => {
  const { services, calls } = fakeServices();
  const { lastFrame, stdin } = render(<App services={services} />);
  await tick();
  stdin.write("0");
  await waitFor(() => lastFrame()?.includes("> sso_1"));
  stdin.write("e");
  await waitFor(() => lastFrame()?.includes("sso_1: disabled"));
  expect(calls).toContain("sso disabled ws_a sso_1");
  stdin.write("n");
  await waitFor(() => lastFrame()?.includes("Add an identity provider"));
  stdin.write("ws_a\r");
  await tick();
  stdin.write("/etc/causeloop/corp-saml.json\r");
  await waitFor(() => lastFrame()?.includes("added"));
  expect(calls).toContain("sso create ws_a /etc/causeloop/corp-saml.json");
  expect(lastFrame()).toContain("sso_2: added (saml, Corp SAML)");
});
