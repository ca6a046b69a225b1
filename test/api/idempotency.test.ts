// Idempotency-Key as a client relies on it: a retried POST or PATCH never acts twice, the replay is the first
// answer (marked Idempotent-Replayed), a key reused for another request is 422 and one still running is 409;
// keys belong to one credential in one workspace; refusals are not kept; expired keys are swept; two app
// instances on one database see the same keys.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createApp } from "../../src/http/app.ts";
import { tenantDoor } from "../../src/db/tenant.ts";
import { sha256Hex } from "../../src/identity/tokens.ts";
import { runRetention } from "../../src/governance/retention.ts";
import { silentLogger } from "../../src/log.ts";
import { describeEngines } from "../helpers/db.ts";
import { ownerApp, type OwnerApp } from "../helpers/routes.ts";

describeEngines("Idempotency-Key", (kind) => {
  let h: OwnerApp;
  const send = async (method: string, path: string, body: unknown, key?: string, token = h.token) => {
    const response = await h.app.fetch(
      new Request(`http://localhost${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          ...(key ? { "idempotency-key": key } : {}),
        },
        body: JSON.stringify(body),
      }),
    );
    return {
      status: response.status,
      headers: response.headers,
      body: (await response.json()) as Record<string, unknown>,
    };
  };
  const issueCount = async (title: string) =>
    (
      await h.db.owner.query<{ n: number }>(
        "select count(*)::int as n from issues where workspace_id = $1 and title = $2",
        [h.tenant.workspace_id, title],
      )
    )[0]?.n;

  beforeAll(async () => {
    h = await ownerApp(kind);
  });
  afterAll(() => h.dispose());

  test("a retried POST creates once and replays the first answer; PATCH likewise", async () => {
    const first = await send("POST", "/v1/issues", { title: "Retried" }, "key-1");
    const again = await send("POST", "/v1/issues", { title: "Retried" }, "key-1");
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    expect(await issueCount("Retried")).toBe(1);
    const id = first.body.id as string;
    const patched = await send("PATCH", `/v1/issues/${id}`, { severity: "high" }, "key-2");
    const replayed = await send("PATCH", `/v1/issues/${id}`, { severity: "high" }, "key-2");
    expect(replayed.body).toEqual(patched.body);
    const audits = await h.db.owner.query<{ n: number }>(
      "select count(*)::int as n from audit_log where workspace_id = $1 and action = 'issue.updated' and target_id = $2",
      [h.tenant.workspace_id, id],
    );
    expect(audits[0]?.n).toBe(1);
    // Without a key every request runs.
    await send("POST", "/v1/issues", { title: "Unkeyed" });
    await send("POST", "/v1/issues", { title: "Unkeyed" });
    expect(await issueCount("Unkeyed")).toBe(2);
  });

  test("the same key with another request is 422; while the first still runs, 409", async () => {
    await send("POST", "/v1/issues", { title: "One" }, "key-3");
    const other = await send("POST", "/v1/issues", { title: "Two" }, "key-3");
    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({ code: "validation_failed", reason: "idempotency_key_reused" });
    expect(await issueCount("Two")).toBe(0);
    // A first request still running (its row claimed, no answer yet).
    const body = JSON.stringify({ title: "Slow" });
    await h.db.owner.query(
      `insert into idempotency_keys (workspace_id, id, credential_hash, key, fingerprint, expires_at)
       values ($1, new_id('idem'), $2, 'key-4', $3, now() + interval '1 hour')`,
      [h.tenant.workspace_id, sha256Hex(h.token), sha256Hex(`POST\n/v1/issues\n${body}`)],
    );
    const running = await send("POST", "/v1/issues", { title: "Slow" }, "key-4");
    expect(running.status).toBe(409);
    expect(running.body).toMatchObject({ code: "conflict", reason: "idempotency_key_in_progress" });
    expect(await issueCount("Slow")).toBe(0);
  });

  test("keys belong to their credential; refused requests are not kept; a malformed key is 422", async () => {
    const pat = (await send("POST", "/v1/tokens", { name: "ci", scopes: ["issues:write", "issues:read"] })).body
      .token as string;
    await send("POST", "/v1/issues", { title: "Mine" }, "shared-key");
    const theirs = await send("POST", "/v1/issues", { title: "Mine" }, "shared-key", pat);
    expect(theirs.status).toBe(201);
    expect(theirs.headers.get("idempotent-replayed")).toBeNull();
    expect(await issueCount("Mine")).toBe(2);
    const narrow = (await send("POST", "/v1/tokens", { name: "ro", scopes: ["issues:read"] })).body.token as string;
    expect((await send("POST", "/v1/issues", { title: "Refused" }, "key-5", narrow)).status).toBe(403);
    const [kept] = await h.db.owner.query<{ n: number }>(
      "select count(*)::int as n from idempotency_keys where key = 'key-5'",
    );
    expect(kept?.n).toBe(0);
    expect((await send("POST", "/v1/issues", { title: "Bad key" }, "key with spaces")).status).toBe(422);
  });

  test("a second instance on the same database replays the first one's answer", async () => {
    const other = createApp({
      logger: silentLogger,
      readiness: async () => [],
      version: "t",
      bodyLimitBytes: 1 << 20,
      door: tenantDoor(h.db.app),
      kek: h.kek,
    });
    const first = await send("POST", "/v1/issues", { title: "Across instances" }, "key-6");
    const response = await other.fetch(
      new Request("http://localhost/v1/issues", {
        method: "POST",
        headers: { authorization: `Bearer ${h.token}`, "content-type": "application/json", "idempotency-key": "key-6" },
        body: JSON.stringify({ title: "Across instances" }),
      }),
    );
    expect(response.headers.get("idempotent-replayed")).toBe("true");
    expect(await response.json()).toEqual(first.body);
    expect(await issueCount("Across instances")).toBe(1);
  });

  test("expired keys are swept by the retention job, and the stored answer is ciphertext", async () => {
    const [row] = await h.db.owner.query<{ body: string }>(
      "select response_body_encrypted as body from idempotency_keys where key = 'key-1'",
    );
    expect(row?.body).toStartWith("clp1.");
    expect(row?.body).not.toContain("Retried");
    await h.db.owner.query("update idempotency_keys set expires_at = now() - interval '1 minute' where key = 'key-1'");
    const run = await runRetention(h.db.app);
    expect(run.totals.idempotency_keys).toBe(1);
    const again = await send("POST", "/v1/issues", { title: "Retried" }, "key-1");
    expect(again.headers.get("idempotent-replayed")).toBeNull(); // an expired key is a new key
  });
});
