// The relay end to end inside one process: a customer's PostgreSQL 16, a real server socket carrying the app
// and the relay hub, and a real relay agent dialling it. Queries come back masked; forbidden tables, writes
// and dangerous functions are refused with the relay's reason; every query is in both audit trails; a
// revoked token stops at once; a second instance on the same PostgreSQL routes to the relay's instance.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { onboard, type OnboardResult } from "../../src/tenancy/service.ts";
import { LocalKeyRing } from "../../src/secrets/keyring.ts";
import { withTenant } from "../../src/db/tenant.ts";
import { createRelayToken, revokeRelayToken } from "../../src/relay/tokens.ts";
import { verifyRelayLog } from "../../src/relay/agent/audit-log.ts";
import { apiDeps } from "../helpers/app.ts";
import { describeEngines, type TestDb, createTestDb } from "../helpers/db.ts";
import { customerDatabase, type CustomerDb, type HubServer, runRelay, serveWithHub } from "../helpers/relay.ts";

type Json = Record<string, unknown>;

describeEngines("relay", (kind) => {
  let db: TestDb;
  let acme: OnboardResult;
  let customer: CustomerDb;
  let hub: HubServer;
  let relay: Awaited<ReturnType<typeof runRelay>>;
  let relayToken: { id: string; token: string };
  let connectorId: string;
  const kek = new LocalKeyRing(Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"));
  const operator = (ws: string) => ({ workspaceId: ws, actorId: "op", actorType: "operator" as const, context: {} });

  const call = async (path: string, init: { method?: string; body?: unknown; token?: string; base?: string } = {}) => {
    const response = await fetch(`${init.base ?? hub.url}${path}`, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers: {
        authorization: `Bearer ${init.token ?? acme.admin_token}`,
        ...(init.body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await response.text();
    return { status: response.status, text, json: (text ? JSON.parse(text) : {}) as Json };
  };
  const query = (sql: string, extra: Json = {}) =>
    call(`/v1/connectors/${connectorId}/query`, { body: { sql, ...extra } });

  beforeAll(async () => {
    db = await createTestDb(kind);
    acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.example" }, kek);
    customer = await customerDatabase();
    hub = await serveWithHub(db.app, apiDeps(db, kek));
    relayToken = await withTenant(db.app, acme.workspace_id, (tx) =>
      createRelayToken(tx, operator(acme.workspace_id), { name: "prod-eu" }),
    );
    relay = await runRelay(hub.url, relayToken.token, customer);
    const connectors = await call("/v1/connectors");
    const mine = (connectors.json.data as Json[]).find((c) => c.display_name === "prod-eu/main");
    connectorId = mine?.id as string;
  });
  afterAll(async () => {
    await relay?.dispose();
    await hub?.stop();
    await customer?.dispose();
    await db?.dispose();
  });

  test("a connected relay is listed with its databases, and each database is a connector", async () => {
    const relays = await call("/v1/relays");
    expect(relays.status).toBe(200);
    expect((relays.json.data as Json[])[0]).toMatchObject({
      relay: "prod-eu",
      status: "connected",
      databases: [{ name: "main", kind: "postgres" }],
    });
    const connector = await call(`/v1/connectors/${connectorId}`);
    expect(connector.json).toMatchObject({ type: "postgresql_relay", status: "active", display_name: "prod-eu/main" });
  });

  test("a query returns rows masked inside the relay: no email, phone or card number reaches the server", async () => {
    const answer = await query("select id, name, email, phone, card, notes from customers order by id");
    expect(answer.status).toBe(200);
    expect(answer.json.columns).toEqual(["id", "name", "email", "phone", "card", "notes"]);
    const rows = answer.json.rows as unknown[][];
    expect(rows.length).toBe(3);
    expect(rows[0]?.[0]).toBe(1);
    for (const secret of ["ada@example.com", "grace.h@example.org", "7946 0958", "4111 1111 1111 1111", "203.0.113.7"])
      expect(answer.text).not.toContain(secret);
    const masked = answer.json.masked as { by_kind: Record<string, number>; by_column: Record<string, number> };
    expect(masked.by_column.email).toBe(3);
    expect(masked.by_column.card).toBe(3); // denied column in mask mode: always redacted
    expect(masked.by_kind.email).toBeGreaterThanOrEqual(4); // three columns plus one in free text
    expect(answer.json.tables).toEqual(["public.customers"]);
  });

  test("caps: the relay returns at most max_rows and says the result was truncated", async () => {
    const answer = await query("select id, total from orders order by id", { max_rows: 25 });
    expect(answer.status).toBe(200);
    expect((answer.json.rows as unknown[]).length).toBe(25);
    expect(answer.json.truncated).toBe(true);
  });

  test("forbidden tables, writes, several statements and dangerous functions are refused with the relay's reason", async () => {
    const refusals: Array<[string, RegExp]> = [
      ["select * from secrets", /secrets/i],
      ["delete from customers", /DELETE|only SELECT|not allowed/i],
      ["with d as (delete from orders returning *) select * from d", /DELETE|data-modifying|not allowed/i],
      ["select pg_sleep(5)", /pg_sleep/i],
      ["select 1; drop table customers", /one statement|multiple|several/i],
      ["select * from pg_authid", /pg_authid|catalog/i],
    ];
    for (const [sql, reason] of refusals) {
      const answer = await query(sql);
      expect(`${sql} -> ${answer.status}`).toBe(`${sql} -> 422`);
      expect(answer.json.code).toBe("query_refused");
      expect(answer.json.detail as string).toMatch(reason);
    }
    const stillThere = await query("select count(*) as n from customers");
    expect((stillThere.json.rows as unknown[][])[0]?.[0]).toBe("3");
  });

  test("every query is audited on the server (fingerprint, normalized text without literals) and in the relay's log", async () => {
    await query("select name from customers where email = 'ada@example.com'");
    const rows = await db.owner.query<{ action: string; after: Json }>(
      "select action, after from audit_log where workspace_id = $1 and action = 'relay.query' order by seq",
      [acme.workspace_id],
    );
    const last = rows.at(-1)?.after as Json;
    expect(last).toMatchObject({ outcome: "succeeded", relay: "prod-eu", tables: ["public.customers"], row_count: 1 });
    expect(String(last.fingerprint)).toMatch(/^[0-9a-f]{16,64}$/);
    expect(String(last.normalized)).not.toContain("ada@example.com");
    expect(rows.some((r) => r.after.outcome === "refused")).toBe(true);
    const log = readFileSync(relay.auditLog, "utf8");
    expect(log).toContain('"event":"query"');
    expect(log).not.toContain("ada@example.com");
    expect(verifyRelayLog(relay.auditLog)).toMatchObject({ ok: true });
  });

  test("the relay's WebSocket takes a relay token only, and a malformed frame closes that socket, not the server", async () => {
    const plain = await call("/v1/relay/connect");
    expect(plain.status).toBe(401);
    const check = await call("/v1/relay/connect", { token: relayToken.token });
    expect(check.json).toEqual({ relay: "prod-eu", protocol_version: 1, upgrade: "websocket" });
    expect((await call("/v1/relay/connect", { token: acme.admin_token })).status).toBe(401);
    const closed = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${hub.url.replace("http", "ws")}/v1/relay/connect`, {
        headers: { authorization: `Bearer ${relayToken.token}` },
      } as unknown as string[]);
      ws.addEventListener("open", () => ws.send("{not json"));
      ws.addEventListener("close", (event) => resolve(event.code));
    });
    expect(closed).toBe(1007);
    const refused = await new Promise<string>((resolve) => {
      const ws = new WebSocket(`${hub.url.replace("http", "ws")}/v1/relay/connect`, {
        headers: { authorization: `Bearer ${acme.admin_token}` },
      } as unknown as string[]);
      ws.addEventListener("open", () => resolve("opened"));
      ws.addEventListener("error", () => resolve("refused"));
    });
    expect(refused).toBe("refused");
    expect((await query("select count(*) from orders")).status).toBe(200);
  });

  test("stored results: only when asked, and only the masked rows", async () => {
    const stored = await query("select email from customers where id = 1", { store: true });
    const record = await call(`/v1/relay-queries/${stored.json.id}`);
    expect(record.json).toMatchObject({ status: "succeeded", row_count: 1 });
    expect(JSON.stringify(record.json.result)).not.toContain("ada@example.com");
    expect((record.json.result as Json).rows).toEqual(stored.json.rows);
    const unstored = await query("select email from customers where id = 1");
    expect((await call(`/v1/relay-queries/${unstored.json.id}`)).json.result).toBeNull();
  });

  test.skipIf(kind !== "postgres")(
    "a second instance on the same PostgreSQL routes a query to the instance holding the relay's socket",
    async () => {
      const other = await serveWithHub(db.app, apiDeps(db, kek));
      try {
        expect(other.hub.connected()).toBe(0);
        const answer = await call(`/v1/connectors/${connectorId}/query`, {
          base: other.url,
          body: { sql: "select id, email from customers order by id" },
        });
        expect(answer.status).toBe(200);
        expect((answer.json.rows as unknown[]).length).toBe(3);
        expect(answer.text).not.toContain("@example.com");
      } finally {
        await other.stop();
      }
    },
  );

  test("a revoked relay token stops its connectors at once", async () => {
    await withTenant(db.app, acme.workspace_id, (tx) =>
      revokeRelayToken(tx, operator(acme.workspace_id), relayToken.id),
    );
    const answer = await query("select 1 as one");
    expect(answer.status).toBe(503);
    expect(answer.json.code).toBe("relay_unavailable");
    // It is listed as disconnected at once; its open socket is closed at the relay's next heartbeat (10 s).
    expect(((await call("/v1/relays")).json.data as Json[])[0]?.status).toBe("disconnected");
    const deadline = Date.now() + 30_000;
    while (hub.hub.connected() > 0 && Date.now() < deadline) await Bun.sleep(250);
    expect(hub.hub.connected()).toBe(0);
  }, 60_000);
});
