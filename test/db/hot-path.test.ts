// The hot path, counted (a count, never a timing): one authenticated GET by id is one transaction of at most
// four statements (BEGIN, the door entering with the token and reading it, the row, COMMIT), not two; on
// both engines its queries are named prepared statements; and revocation still takes effect on the next request.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createApp, type HttpApp } from "../../src/http/app.ts";
import { openPostgres, type Engine, type Tx } from "../../src/db/engine.ts";
import { parseDatabaseUrl } from "../../src/config.ts";
import { tenantDoor, withoutTenant } from "../../src/db/tenant.ts";
import { onboard, type OnboardResult } from "../../src/tenancy/service.ts";
import { LocalKeyRing } from "../../src/secrets/keyring.ts";
import { silentLogger } from "../../src/log.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";

/** The engine, counting what it sends: each transaction's BEGIN and COMMIT, and every query and exec. */
function counting(engine: Engine) {
  const log: string[] = [];
  const wrap = (tx: Tx): Tx => ({
    ...tx,
    query: (text, params) => {
      log.push(text.trim().split(/\s+/).slice(0, 4).join(" "));
      return tx.query(text, params);
    },
    exec: (text) => {
      log.push(text);
      return tx.exec(text);
    },
  });
  const counted: Engine = {
    ...engine,
    transaction: (fn) => {
      log.push("BEGIN");
      return engine.transaction((tx) => fn(wrap(tx))).finally(() => log.push("COMMIT"));
    },
  };
  return { engine: counted, log };
}

describeEngines("hot path", (kind) => {
  let db: TestDb;
  let acme: OnboardResult;
  let app: HttpApp;
  let statements: string[];
  let single: Engine | undefined;
  let issueId: string;
  const get = async (path: string, token = acme.admin_token as string) => {
    const response = await app.fetch(
      new Request(`http://localhost${path}`, { headers: { authorization: `Bearer ${token}` } }),
    );
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    db = await createTestDb(kind);
    const kek = new LocalKeyRing(Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"));
    acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.example" }, kek);
    // One connection on PostgreSQL, so what it prepared can be read back from pg_prepared_statements.
    single = kind === "postgres" ? await openPostgres(parseDatabaseUrl(db.databaseUrl as string, "app"), 1) : undefined;
    const { engine, log } = counting(single ?? db.app);
    statements = log;
    app = createApp({
      logger: silentLogger,
      readiness: async () => [],
      version: "t",
      bodyLimitBytes: 1 << 20,
      door: tenantDoor(engine),
      kek,
      sessions: {
        jwt: {
          current: new TextEncoder().encode("hot-path-session-secret-0123456789-abcdefghij"),
          previous: undefined,
        },
        anonymous: (fn) => withoutTenant(engine, fn),
        idleMinutes: 60,
        absoluteDays: 1,
      },
    });
    const created = await app.fetch(
      new Request("http://localhost/v1/issues", {
        method: "POST",
        headers: { authorization: `Bearer ${acme.admin_token}`, "content-type": "application/json" },
        body: JSON.stringify({ title: "Hot" }),
      }),
    );
    issueId = ((await created.json()) as { id: string }).id;
  });
  afterAll(async () => {
    await single?.close();
    await db.dispose();
  });

  test("GET /v1/issues/{id}: one transaction, at most four statements", async () => {
    await get(`/v1/issues/${issueId}`); // the token's last use is recorded at most once a minute: warm it
    statements.length = 0;
    const answer = await get(`/v1/issues/${issueId}`);
    expect(answer.status).toBe(200);
    expect(statements.filter((s) => s === "BEGIN")).toHaveLength(1);
    expect(statements.length).toBeLessThanOrEqual(4);
    expect(statements[1]).toContain("enter_with_pat");
    expect(statements[0]).toBe("BEGIN");
    expect(statements.at(-1)).toBe("COMMIT");
  });

  test("GET with a session's access token: one transaction, at most four statements; a revoked session fails next", async () => {
    const send = async (path: string, body: unknown, token?: string) =>
      (await (
        await app.fetch(
          new Request(`http://localhost${path}`, {
            method: "POST",
            headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
            body: JSON.stringify(body),
          }),
        )
      ).json()) as Record<string, string>;
    const invite = await send("/v1/members", { email: "analyst@acme.example", role: "analyst" }, acme.admin_token);
    await send("/v1/auth/accept-invite", { invite_token: invite.invite_token, password: "hot-path-password-1" });
    const session = await send("/v1/auth/login", { email: "analyst@acme.example", password: "hot-path-password-1" });
    const token = session.access_token as string;
    expect((await get(`/v1/issues/${issueId}`, token)).status).toBe(200);
    statements.length = 0;
    expect((await get(`/v1/issues/${issueId}`, token)).status).toBe(200);
    expect(statements.filter((s) => s === "BEGIN")).toHaveLength(1);
    expect(statements.length).toBeLessThanOrEqual(4);
    expect(statements[1]).toContain("enter_with_session");
    // Revocation is read in that same statement: the next request fails.
    await db.owner.query(
      "update sessions set revoked_at = now() where user_id = (select id from users where email = $1)",
      ["analyst@acme.example"],
    );
    expect((await get(`/v1/issues/${issueId}`, token)).status).toBe(401);
  });

  test("POST /v1/issues: the credential check joins the write's one transaction; a refused write leaves nothing", async () => {
    const post = (body: unknown, headers: Record<string, string> = {}) =>
      app.fetch(
        new Request("http://localhost/v1/issues", {
          method: "POST",
          headers: { authorization: `Bearer ${acme.admin_token}`, "content-type": "application/json", ...headers },
          body: JSON.stringify(body),
        }),
      );
    statements.length = 0;
    const created = await post({ title: "One transaction", severity: "high" });
    expect(created.status).toBe(201);
    expect(statements.filter((s) => s === "BEGIN")).toHaveLength(1);
    expect(statements[1]).toContain("enter_with_pat");
    expect(statements.some((s) => s.startsWith("insert into issues"))).toBe(true);
    // BEGIN, the door, the row, its audit event, its webhook deliveries (one statement, none here), its timeline
    // entry, COMMIT; the chaining after the commit is its own statement.
    const inTransaction = statements.slice(0, statements.indexOf("COMMIT") + 1);
    expect(inTransaction).toHaveLength(7);
    expect(statements.filter((s) => s.startsWith("insert into webhook_deliveries"))).toHaveLength(1);
    // Its audit event was chained when the answer left (the flush after the commit).
    const id = ((await created.json()) as { id: string }).id;
    const [event] = await db.owner.query<{ seq: number }>(
      "select seq::int as seq from audit_log where target_id = $1 and action = 'issue.created'",
      [id],
    );
    expect(event?.seq).toBeGreaterThan(0);
    // A refused body is a 4xx from the same held transaction, rolled back: no issue, no event, nothing queued.
    const [before] = await db.owner.query<{ n: number }>("select count(*)::int as n from issues");
    expect((await post({ title: "" })).status).toBe(422);
    const [after] = await db.owner.query<{ n: number; q: number }>(
      "select (select count(*)::int from issues) as n, (select count(*)::int from audit_queue) as q",
    );
    expect(after).toEqual({ n: before?.n ?? 0, q: 0 });
    // With an Idempotency-Key the write keeps its own transactions (the key's record is its own commit).
    statements.length = 0;
    expect((await post({ title: "Kept answer" }, { "idempotency-key": "k-1" })).status).toBe(201);
    expect(statements.filter((s) => s === "BEGIN").length).toBeGreaterThan(1);
    // Had a held write leaked, this would wait forever on PGlite's one connection.
    expect((await get(`/v1/issues/${id}`)).status).toBe(200);
  });

  test("the credential and row queries are prepared statements (postgres.js; PGlite's one connection too)", async () => {
    await get(`/v1/issues/${issueId}`);
    const prepared = await (single ?? db.app).query<{ statement: string }>(
      "select statement from pg_prepared_statements",
    );
    const texts = prepared.map((p) => p.statement).join("\n");
    expect(texts).toContain("enter_with_pat");
    expect(texts).toContain("from issues");
  });

  test("a revoked token fails on the very next request, and a read that fails leaves nothing open", async () => {
    const token = (
      (await (
        await app.fetch(
          new Request("http://localhost/v1/service-accounts", {
            method: "POST",
            headers: { authorization: `Bearer ${acme.admin_token}`, "content-type": "application/json" },
            body: JSON.stringify({ name: "bot", role: "viewer" }),
          }),
        )
      ).json()) as { id: string }
    ).id;
    const minted = (await (
      await app.fetch(
        new Request(`http://localhost/v1/service-accounts/${token}/tokens`, {
          method: "POST",
          headers: { authorization: `Bearer ${acme.admin_token}`, "content-type": "application/json" },
          body: JSON.stringify({ name: "t", scopes: ["issues:read"] }),
        }),
      )
    ).json()) as { id: string; token: string };
    expect((await get(`/v1/issues/${issueId}`, minted.token)).status).toBe(200);
    await db.owner.query("update personal_access_tokens set revoked_at = now() where id = $1", [minted.id]);
    expect((await get(`/v1/issues/${issueId}`, minted.token)).status).toBe(401);
    expect((await get("/v1/issues/iss_00000000000000000000000000")).status).toBe(404);
    // Had a held transaction leaked, this would wait forever on PGlite's one connection.
    expect((await get(`/v1/issues/${issueId}`)).status).toBe(200);
  });
});
