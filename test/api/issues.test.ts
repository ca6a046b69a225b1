// /v1/issues: validation, filters, keyset pagination newest first, update and soft delete, on both engines.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createApp, type HttpApp } from "../../src/http/app.ts";
import { silentLogger } from "../../src/log.ts";
import { tenantDoor } from "../../src/db/tenant.ts";
import { onboard, type OnboardResult } from "../../src/tenancy/service.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";

describeEngines("issues", (kind) => {
  let db: TestDb;
  let app: HttpApp;
  let acme: OnboardResult;
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await app.fetch(
      new Request(`http://localhost${path}`, {
        method,
        body: body ? JSON.stringify(body) : undefined,
        headers: { authorization: `Bearer ${acme.admin_token}`, "content-type": "application/json" },
      }),
    );
    const text = await response.text();
    return {
      status: response.status,
      body: (text ? JSON.parse(text) : null) as Record<string, unknown> & {
        data?: { id: string; title: string; severity: string }[];
        next_cursor?: string | null;
      },
    };
  };
  beforeAll(async () => {
    db = await createTestDb(kind);
    acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" });
    app = createApp({
      logger: silentLogger,
      readiness: async () => [],
      version: "t",
      bodyLimitBytes: 1 << 20,
      door: tenantDoor(db.app),
    });
    for (let i = 0; i < 7; i++)
      await call("POST", "/v1/issues", { title: `Issue ${i}`, severity: i % 2 ? "high" : "low" });
  });
  afterAll(() => db.dispose());

  test("bad input is 422 naming the field", async () => {
    for (const body of [
      {},
      { title: "" },
      { title: "x", severity: "apocalyptic" },
      { title: "x", reporter_email: "not-an-email" },
    ]) {
      expect((await call("POST", "/v1/issues", body)).status).toBe(422);
    }
    expect((await call("GET", "/v1/issues?created_after=yesterday")).status).toBe(422);
    expect((await call("GET", "/v1/issues?cursor=garbage")).status).toBe(422);
    expect((await call("GET", "/v1/issues/not-an-id")).status).toBe(422);
  });

  test("keyset pages newest first, filters by severity and time", async () => {
    const first = await call("GET", "/v1/issues?limit=3");
    expect(first.body.data?.map((i) => i.title)).toEqual(["Issue 6", "Issue 5", "Issue 4"]);
    const second = await call("GET", `/v1/issues?limit=3&cursor=${first.body.next_cursor}`);
    expect(second.body.data?.map((i) => i.title)).toEqual(["Issue 3", "Issue 2", "Issue 1"]);
    const third = await call("GET", `/v1/issues?limit=3&cursor=${second.body.next_cursor}`);
    expect(third.body.data?.map((i) => i.title)).toEqual(["Issue 0"]);
    expect(third.body.next_cursor).toBeNull();
    const high = await call("GET", "/v1/issues?severity=high");
    expect(high.body.data?.every((i) => i.severity === "high")).toBe(true);
    expect(high.body.data).toHaveLength(3);
    expect(
      (await call("GET", `/v1/issues?created_after=${new Date(Date.now() + 60_000).toISOString()}`)).body.data,
    ).toEqual([]);
  });

  test("update and soft delete", async () => {
    const created = await call("POST", "/v1/issues", { title: "To resolve", reporter_email: "Jane@Example.com" });
    expect(created.body.reporter_email).toBe("jane@example.com");
    const id = created.body.id as string;
    const updated = await call("PATCH", `/v1/issues/${id}`, { status: "resolved" });
    expect(updated.body.status).toBe("resolved");
    expect((await call("DELETE", `/v1/issues/${id}`)).status).toBe(204);
    expect((await call("GET", `/v1/issues/${id}`)).status).toBe(404);
    expect((await call("PATCH", `/v1/issues/${id}`, { status: "open" })).status).toBe(404);
  });
});
