// Client A's credentials never reach client B: every protected route, given B's ids, answers 404 (never
// 403, so ids do not leak existence) and changes nothing of B.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createApp } from "../../src/http/app.ts";
import { silentLogger } from "../../src/log.ts";
import { tenantDoor } from "../../src/db/tenant.ts";
import { onboard, type OnboardResult } from "../../src/tenancy/service.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";

describeEngines("cross-tenant API", (kind) => {
  let db: TestDb;
  let a: OnboardResult;
  let b: OnboardResult;
  let call: (token: string, path: string, init?: RequestInit) => Promise<Response>;
  let bIssue: string;

  beforeAll(async () => {
    db = await createTestDb(kind);
    a = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" });
    b = await onboard(db.owner, { slug: "globex", name: "Globex", adminEmail: "ops@globex.com" });
    const app = createApp({
      logger: silentLogger,
      readiness: async () => [],
      version: "test",
      bodyLimitBytes: 1 << 20,
      door: tenantDoor(db.app),
    });
    call = (token, path, init = {}) =>
      app.fetch(
        new Request(`http://localhost${path}`, {
          ...init,
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        }),
      );
    const created = await call(b.admin_token as string, "/v1/issues", {
      method: "POST",
      body: JSON.stringify({ title: "Globex secret incident" }),
    });
    bIssue = ((await created.json()) as { id: string }).id;
    await call(a.admin_token as string, "/v1/issues", {
      method: "POST",
      body: JSON.stringify({ title: "Acme incident" }),
    });
  });
  afterAll(() => db.dispose());

  test("A lists only its own issues", async () => {
    const list = (await (await call(a.admin_token as string, "/v1/issues")).json()) as {
      data: { title: string; workspace_id: string }[];
    };
    expect(list.data.map((i) => i.title)).toEqual(["Acme incident"]);
    expect(list.data.every((i) => i.workspace_id === a.workspace_id)).toBe(true);
  });

  test("A reading, changing or deleting B's issue gets 404 and B's issue is unchanged", async () => {
    const token = a.admin_token as string;
    for (const [method, body] of [
      ["GET", undefined],
      ["PATCH", JSON.stringify({ title: "pwned" })],
      ["DELETE", undefined],
    ] as const) {
      const response = await call(token, `/v1/issues/${bIssue}`, { method, body });
      expect(response.status).toBe(404);
      expect(((await response.json()) as { code: string }).code).toBe("not_found");
    }
    const still = await call(b.admin_token as string, `/v1/issues/${bIssue}`);
    expect(((await still.json()) as { title: string }).title).toBe("Globex secret incident");
  });

  test("a token whose workspace part is B's but whose secret is A's is refused", async () => {
    const forged = (a.admin_token as string).replace(a.workspace_id.slice(3), b.workspace_id.slice(3));
    expect((await call(forged, "/v1/me")).status).toBe(401);
  });

  test("missing, malformed or wrong tokens are the same 401 problem", async () => {
    const bodies = [];
    const real = a.admin_token as string;
    for (const token of ["", "nope", "clp_pat_x", `${real.slice(0, -1)}${real.endsWith("0") ? "1" : "0"}`]) {
      const response = await call(token, "/v1/issues");
      expect(response.status).toBe(401);
      const body = (await response.json()) as Record<string, unknown>;
      bodies.push(`${body.code}|${body.detail}`);
    }
    expect(new Set(bodies).size).toBe(1);
  });
});
