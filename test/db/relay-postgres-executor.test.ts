// The relay's PostgreSQL executor against a real PostgreSQL 16 (a customer database is always real
// PostgreSQL, so this suite has no PGlite half). Each run builds its own database and roles.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { createPostgresExecutor, type PostgresExecutor } from "../../src/relay/executors/postgres.ts";
import type { PgPolicy } from "../../src/relay/policy/sql.ts";
import { type QueryLimits, RelayRefusal } from "../../src/relay/types.ts";
import { postgresServer } from "../helpers/postgres-server.ts";

const suffix = `${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
const DB = `relay_exec_${suffix}`;
const READER = `relay_reader_${suffix}`;
const WRITER = `relay_writer_${suffix}`;
const READER_PASSWORD = "reader-secret-password-4711";
const WRITER_PASSWORD = "writer-secret-password-4712";
const LIMITS: QueryLimits = { timeoutMs: 5_000, maxRows: 100, maxBytes: 1_000_000 };
const POLICY: PgPolicy = { tables: { allow: ["public.*"], deny: ["public.secrets"] } };

let port = 0;
let superuserUrl = "";
const executors: PostgresExecutor[] = [];

function urlFor(user: string, password: string): string {
  return `postgres://${user}:${password}@127.0.0.1:${port}/${DB}`;
}

function executor(url: string, extra: Partial<Parameters<typeof createPostgresExecutor>[0]> = {}): PostgresExecutor {
  const created = createPostgresExecutor({ name: "orders-db", url, policy: POLICY, ...extra });
  executors.push(created);
  return created;
}

async function refusal(promise: Promise<unknown>): Promise<RelayRefusal> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RelayRefusal) return error;
    throw error;
  }
  throw new Error("expected a refusal");
}

async function orderCount(): Promise<number> {
  const admin = postgres(superuserUrl, { max: 1, onnotice: () => {} });
  const [row] = await admin<{ n: number }[]>`select count(*)::int as n from orders`;
  await admin.end();
  return row?.n ?? -1;
}

beforeAll(async () => {
  const server = await postgresServer();
  port = server.port;
  const root = postgres(server.superuserUrl(), { max: 1, onnotice: () => {} });
  await root.unsafe(`create database ${DB}`);
  await root.unsafe(`create role ${READER} login password '${READER_PASSWORD}'`);
  await root.unsafe(`create role ${WRITER} login password '${WRITER_PASSWORD}'`);
  await root.end();
  superuserUrl = server.superuserUrl(DB);
  const admin = postgres(superuserUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`
    create table orders (id bigint primary key, note text, total numeric(10,2), placed_at timestamptz, raw bytea);
    insert into orders select g, 'order ' || g, g * 1.5, '2026-01-02 03:04:05.123456+00', '\\x0102'
      from generate_series(1, 10) g;
    create table secrets (id int, value text);
    create sequence order_numbers;
    grant usage on schema public to ${READER}, ${WRITER};
    grant select on all tables in schema public to ${READER}, ${WRITER};
    grant insert, update, delete on orders to ${WRITER};
    grant usage on sequence order_numbers to ${WRITER};
    grant create on schema public to ${WRITER};
  `);
  await admin.end();
});

afterAll(async () => {
  await Promise.all(executors.map((e) => e.close().catch(() => {})));
  const server = await postgresServer();
  const root = postgres(server.superuserUrl(), { max: 1, onnotice: () => {} });
  await root.unsafe(`drop database if exists ${DB} with (force)`);
  await root.unsafe(`drop role if exists ${READER}`);
  await root.unsafe(`drop role if exists ${WRITER}`);
  await root.end();
});

describe("relay PostgreSQL executor", () => {
  test("returns columns and JSON-safe rows with the statement's fingerprint", async () => {
    const result = await executor(urlFor(READER, READER_PASSWORD)).run(
      { sql: "SELECT id, note, total, placed_at, raw FROM orders WHERE id <= 2 ORDER BY id" },
      LIMITS,
    );
    expect(result.columns).toEqual(["id", "note", "total", "placed_at", "raw"]);
    expect(result.rows).toEqual([
      ["1", "order 1", "1.50", "2026-01-02 03:04:05.123456+00", "\\x0102"],
      ["2", "order 2", "3.00", "2026-01-02 03:04:05.123456+00", "\\x0102"],
    ]);
    expect(result.truncated).toBe(false);
    expect(result.tables).toEqual(["public.orders"]);
    expect(result.normalized).toBe("SELECT id, note, total, placed_at, raw FROM orders WHERE id <= $1 ORDER BY id");
    expect(result.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  test("columns that share a name keep their own values", async () => {
    const result = await executor(urlFor(READER, READER_PASSWORD)).run(
      { sql: "SELECT 1 AS a, 2 AS a, '{1,2}'::int[] AS list, '{\"k\": 7}'::jsonb AS doc" },
      LIMITS,
    );
    expect(result.columns).toEqual(["a", "a", "list", "doc"]);
    expect(result.rows).toEqual([[1, 2, [1, 2], { k: 7 }]]);
  });

  test("an empty result still names its columns", async () => {
    const result = await executor(urlFor(READER, READER_PASSWORD)).run(
      { sql: "SELECT id, note FROM orders WHERE false" },
      LIMITS,
    );
    expect(result).toMatchObject({ columns: ["id", "note"], rows: [], truncated: false });
  });

  test("the row cap returns exactly maxRows rows and says the result was truncated", async () => {
    const result = await executor(urlFor(READER, READER_PASSWORD)).run(
      { sql: "SELECT id FROM orders ORDER BY id" },
      { ...LIMITS, maxRows: 3 },
    );
    expect(result.rows).toEqual([["1"], ["2"], ["3"]]);
    expect(result.truncated).toBe(true);
    const exact = await executor(urlFor(READER, READER_PASSWORD)).run(
      { sql: "SELECT id FROM orders ORDER BY id" },
      { ...LIMITS, maxRows: 10 },
    );
    expect(exact.rows).toHaveLength(10);
    expect(exact.truncated).toBe(false);
  });

  test("the byte cap stops before the result grows past maxBytes", async () => {
    const result = await executor(urlFor(READER, READER_PASSWORD)).run(
      { sql: "SELECT id, note FROM orders ORDER BY id" },
      { ...LIMITS, maxBytes: 60 },
    );
    expect(result.truncated).toBe(true);
    expect(result.rows.length).toBeGreaterThan(0);
    expect(result.rows.length).toBeLessThan(10);
    expect(JSON.stringify(result.rows).length).toBeLessThanOrEqual(60);
  });

  test("a query over the statement timeout is cancelled with a timeout refusal", async () => {
    const error = await refusal(
      executor(urlFor(READER, READER_PASSWORD)).run(
        { sql: "SELECT count(*) FROM generate_series(1, 2000000000) g" },
        { ...LIMITS, timeoutMs: 300 },
      ),
    );
    expect(error.code).toBe("timeout");
    expect(error.reason).toContain("ran longer than 300 ms");
  });

  test("a query that cannot get a connection gives up instead of running late", async () => {
    const reader = executor(urlFor(READER, READER_PASSWORD));
    const busy = Array.from({ length: 4 }, () =>
      reader.runReadOnly("SELECT pg_sleep(6)", { ...LIMITS, timeoutMs: 10_000 }),
    );
    await Bun.sleep(200);
    const started = performance.now();
    const error = await refusal(reader.runReadOnly("SELECT 1", { ...LIMITS, timeoutMs: 100 }));
    expect(error.code).toBe("timeout");
    expect(performance.now() - started).toBeLessThan(6_000);
    await Promise.all(busy);
    expect((await reader.runReadOnly("SELECT 1 AS ok", LIMITS)).rows).toEqual([[1]]);
  });

  test("the policy refuses before the database is asked, and a parse error says so", async () => {
    const reader = executor(urlFor(READER, READER_PASSWORD));
    const policy = await refusal(reader.run({ sql: "DELETE FROM orders" }, LIMITS));
    expect(policy.code).toBe("policy");
    expect(policy.reason).toContain("DELETE is not allowed");
    const denied = await refusal(reader.run({ sql: "SELECT * FROM secrets" }, LIMITS));
    expect(denied.reason).toContain("public.secrets is denied");
    const parse = await refusal(reader.run({ sql: "SELEC 1" }, LIMITS));
    expect(parse.code).toBe("parse");
  });

  test("a database error carries PostgreSQL's message and never the URL or password", async () => {
    const error = await refusal(
      executor(urlFor(READER, READER_PASSWORD)).run({ sql: "SELECT nope FROM orders" }, LIMITS),
    );
    expect(error.code).toBe("database");
    expect(error.reason).toContain('column "nope" does not exist');
    expect(error.reason).not.toContain(READER_PASSWORD);
    const unreachable = createPostgresExecutor({
      name: "gone",
      url: `postgres://${READER}:${READER_PASSWORD}@127.0.0.1:1/${DB}`,
      policy: POLICY,
    });
    executors.push(unreachable);
    const startup = await unreachable.check().then(
      () => "",
      (e: Error) => e.message,
    );
    expect(startup).toContain("gone");
    expect(startup).not.toContain(READER_PASSWORD);
    expect(startup).not.toContain("postgres://");
  });

  test("check() passes a read-only role and refuses a superuser or a role that can write allowed tables", async () => {
    expect(await executor(urlFor(READER, READER_PASSWORD)).check()).toEqual([]);
    const superuser = await executor(superuserUrl)
      .check()
      .then(
        () => "",
        (e: Error) => e.message,
      );
    expect(superuser).toContain("is a superuser");
    expect(superuser).not.toContain("test-superuser-password");
    const writer = await executor(urlFor(WRITER, WRITER_PASSWORD))
      .check()
      .then(
        () => "",
        (e: Error) => e.message,
      );
    expect(writer).toContain("can write allowed tables (public.orders)");
    expect(writer).not.toContain(WRITER_PASSWORD);
  });

  test("allow_writable_role starts a writable role with a warning", async () => {
    const warnings = await executor(urlFor(WRITER, WRITER_PASSWORD), { allow_writable_role: true }).check();
    expect(warnings.join("\n")).toContain("can write allowed tables");
  });

  test("the database layer alone refuses writes even for a role that can write", async () => {
    const writer = executor(urlFor(WRITER, WRITER_PASSWORD));
    const before = await orderCount();
    const writes = [
      "INSERT INTO orders (id, note) VALUES (99, 'x')",
      "UPDATE orders SET note = 'changed'",
      "DELETE FROM orders",
      "CREATE TABLE planted (id int)",
      "SELECT nextval('order_numbers')",
      "WITH gone AS (DELETE FROM orders RETURNING id) SELECT count(*) FROM gone",
    ];
    for (const sql of writes) {
      const error = await refusal(writer.runReadOnly(sql, LIMITS));
      expect(error.code).toBe("database");
      expect(error.reason).toMatch(/cannot execute .+ in a read-only transaction/);
    }
    expect(await orderCount()).toBe(before);
    const stacked = await refusal(writer.runReadOnly("SELECT 1; DELETE FROM orders", LIMITS));
    expect(stacked.reason).toContain("cannot insert multiple commands");
    expect(await orderCount()).toBe(before);
  });

  test("sessions default to read-only transactions and pin the search_path", async () => {
    const reader = executor(urlFor(READER, READER_PASSWORD));
    const result = await reader.runReadOnly(
      "SELECT current_setting('default_transaction_read_only') AS session, current_setting('transaction_read_only') AS tx, current_setting('search_path') AS path",
      LIMITS,
    );
    expect(result.rows).toEqual([["on", "on", "public"]]);
  });
});
