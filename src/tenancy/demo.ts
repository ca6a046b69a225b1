// The demo organization `causeloop demo` serves, made through the same services as real use, so a newcomer can
// walk in: an owner with a password and a personal access token (printed once), members of every role,
// issues of several severities and statuses (each audited), and one completed erasure with its certificate.
import type { Engine } from "../db/engine.ts";
import { tenantDoor, withTenant } from "../db/tenant.ts";
import type { LocalKeyRing } from "../secrets/keyring.ts";
import type { Actor } from "../audit/service.ts";
import { acceptInvite, inviteMember } from "../identity/members.ts";
import { createIssue } from "../issues/service.ts";
import { approve, submitRequest, transition, type RtbfKeys } from "../governance/rtbf.ts";
import type { ArchiveStore } from "../governance/storage.ts";
import { onboard } from "./service.ts";

const DEMO_ISSUES: { title: string; severity: string; status: string; reporter?: string }[] = [
  { title: "Checkout API p99 latency above 2s", severity: "high", status: "investigating" },
  { title: "Payment webhooks failing with 502 from upstream", severity: "critical", status: "open" },
  { title: "Nightly ETL job exceeded its window", severity: "medium", status: "mitigated" },
  { title: "Disk usage at 91% on db-replica-2", severity: "high", status: "open" },
  { title: "Login error rate spike after deploy 2026.11.3", severity: "critical", status: "resolved" },
  { title: "Search results stale for 20 minutes", severity: "low", status: "closed" },
  {
    title: "Customer reports duplicate invoice emails",
    severity: "medium",
    status: "open",
    reporter: "former.customer@example.com",
  },
];

export const DEMO_ADMIN_EMAIL = "admin@demo.example";

export interface DemoSeed {
  organization: string;
  workspace_id: string;
  issues: number;
  /** Shown once: the demo owner's sign-in and token (absent when the demo organization already existed). */
  admin?: { email: string; password: string; token: string };
  members: { email: string; role: string }[];
  erasure?: { request_id: string; status: string };
}

const password = () => `demo-${Buffer.from(crypto.getRandomValues(new Uint8Array(9))).toString("base64url")}`;

export async function seedDemo(
  engine: Engine,
  kek: LocalKeyRing,
  erasure: () => Promise<{ rtbf: RtbfKeys; store: ArchiveStore }>,
): Promise<DemoSeed> {
  const [existing] = await engine.query<{ id: string }>(
    "select w.id from workspaces w join organizations o on o.id = w.organization_id where o.slug = 'demo'",
  );
  if (existing) return { organization: "demo", workspace_id: existing.id, issues: DEMO_ISSUES.length, members: [] };
  const tenant = await onboard(
    engine,
    { slug: "demo", name: "Demo Corp", adminEmail: DEMO_ADMIN_EMAIL, actor: "operator:demo" },
    kek,
  );
  const ws = tenant.workspace_id;
  const door = tenantDoor(engine);
  const adminPassword = password();
  await acceptInvite(door, { invite_token: tenant.setup_token as string, password: adminPassword });
  const owner: Actor & { role: "owner" } = {
    workspaceId: ws,
    actorId: tenant.user_id as string,
    actorType: "user",
    context: { userAgent: "causeloop demo" },
    role: "owner",
  };
  const members = [
    { email: "alice.admin@demo.example", role: "admin" as const },
    { email: "arjun.analyst@demo.example", role: "analyst" as const },
    { email: "vera.viewer@demo.example", role: "viewer" as const },
  ];
  for (const member of members) {
    const invite = await withTenant(engine, ws, (tx) => inviteMember(tx, owner, member));
    await acceptInvite(door, { invite_token: invite.invite_token, password: password() });
  }
  for (const issue of DEMO_ISSUES)
    await withTenant(engine, ws, (tx) =>
      createIssue(tx, owner, {
        title: issue.title,
        severity: issue.severity,
        status: issue.status,
        reporter_email: issue.reporter ?? null,
      }),
    );
  // A former customer asked to be forgotten: verified, approved, erased, with a signed certificate.
  const keys = await erasure();
  const request = await withTenant(engine, ws, (tx) =>
    submitRequest(tx, keys.rtbf, owner, { email: "former.customer@example.com", reason: "GDPR Art. 17 request" }),
  );
  await withTenant(engine, ws, (tx) => transition(tx, owner, request.id, "verifying"));
  const erased = await approve(engine, keys.rtbf, keys.store, owner, request.id);
  return {
    organization: "demo",
    workspace_id: ws,
    issues: DEMO_ISSUES.length,
    admin: { email: DEMO_ADMIN_EMAIL, password: adminPassword, token: tenant.admin_token as string },
    members: [{ email: DEMO_ADMIN_EMAIL, role: "owner" }, ...members],
    erasure: { request_id: erased.id, status: erased.status },
  };
}
