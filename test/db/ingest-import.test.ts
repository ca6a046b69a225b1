// `causeloop ingest` through the operator plane, on both engines: an NDJSON history and a vendor's export are
// imported into one workspace as live events would be (grouped into issues, resolutions closing them), a line
// that cannot be read is reported without stopping the import, and importing the same file again adds nothing.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runInProcess } from "../../src/operator/transport.ts";
import { onboard, type OnboardResult } from "../../src/tenancy/service.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";

describeEngines("ingest import", (kind) => {
  let db: TestDb;
  let acme: OnboardResult;
  let beta: OnboardResult;
  const dir = mkdtempSync(join(tmpdir(), "causeloop-ingest-"));
  const ingest = async (args: Record<string, unknown>) =>
    runInProcess(
      "ingest.file",
      {
        engine: db.owner,
        config: db.config,
        kek: () => Promise.reject(new Error("not needed")),
        signer: () => Promise.reject(new Error("not needed")),
      },
      { args, actor: "operator:tester" },
    ) as Promise<{ lines: number; accepted: number; duplicates: number; rejected: number; errors: unknown[] }>;

  beforeAll(async () => {
    db = await createTestDb(kind);
    acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" });
    beta = await onboard(db.owner, { slug: "beta", name: "Beta", adminEmail: "ops@beta.com" });
  });
  afterAll(async () => {
    await db.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  test("NDJSON of normalized events: grouped, resolved, bad lines reported, a second run adds nothing", async () => {
    const file = join(dir, "history.ndjson");
    const event = (id: string, title: string, status = "firing", at = "2024-04-01T10:00:00Z") =>
      JSON.stringify({ event_id: id, title, status, occurred_at: at, severity: "high" });
    writeFileSync(
      file,
      [
        event("h-1", "Queue depth 1200 on worker-3"),
        event("h-2", "Queue depth 98 on worker-7", "firing", "2024-04-01T11:00:00Z"),
        "{not json",
        JSON.stringify({ message: "no title" }),
        event("h-3", "Queue depth 5 on worker-1", "resolved", "2024-04-01T12:00:00Z"),
        "",
      ].join("\n"),
    );
    const args = { workspace: acme.workspace_id, source: "generic", file };
    expect(await ingest(args)).toMatchObject({ lines: 5, accepted: 3, duplicates: 0, rejected: 2 });
    const issues = await db.owner.query<{ status: string; created_by: string | null }>(
      "select status, created_by from issues where workspace_id = $1",
      [acme.workspace_id],
    );
    expect(issues).toEqual([{ status: "resolved", created_by: null }]);
    const activity = await db.owner.query<{ kind: string; actor_type: string; actor_id: string }>(
      "select kind, actor_type, actor_id from activity_events where workspace_id = $1 order by id",
      [acme.workspace_id],
    );
    expect(activity.map((a) => a.kind)).toEqual(["event.firing", "event.firing", "event.resolved"]);
    expect(activity[0]).toMatchObject({ actor_type: "operator", actor_id: "operator:tester" });
    expect(await ingest(args)).toMatchObject({ accepted: 0, duplicates: 3, rejected: 2 });
    const [beta_] = await db.owner.query<{ n: number }>(
      "select count(*)::int as n from ingested_events where workspace_id = $1",
      [beta.workspace_id],
    );
    expect(beta_?.n).toBe(0);
  });

  test("a vendor's export (a JSON array of its payloads) goes through its adapter", async () => {
    const file = join(dir, "alerts.json");
    const sample = await Bun.file("test/fixtures/vendors/alertmanager.json").json();
    writeFileSync(file, JSON.stringify([sample, { ...sample, alerts: [] }]));
    const report = await ingest({ workspace: beta.workspace_id, source: "alertmanager", file });
    expect(report).toMatchObject({ lines: 2, accepted: 1, rejected: 0 });
    const [issue] = await db.owner.query<{ title: string; source: string }>(
      "select title, source from issues where workspace_id = $1",
      [beta.workspace_id],
    );
    expect(issue).toEqual({ title: "High request latency on checkout", source: "alertmanager" });
  });

  test("a missing file or workspace is a clear error", async () => {
    await expect(ingest({ workspace: acme.workspace_id, source: "generic", file: join(dir, "nope") })).rejects.toThrow(
      /no file/,
    );
    await expect(ingest({ workspace: acme.workspace_id, source: "splunk", file: join(dir, "nope") })).rejects.toThrow(
      /source/,
    );
  });
});
