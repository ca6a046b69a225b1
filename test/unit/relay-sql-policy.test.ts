// The relay's SQL policy engine: an evasion corpus that must all be refused with a reason a person can act on,
// the queries that must still pass, the column policy in both modes, and policy validation.
import { describe, expect, test } from "bun:test";
import { checkSql, type PgPolicy, type SqlVerdict, validatePgPolicy } from "../../src/relay/policy/sql.ts";

const POLICY: PgPolicy = {
  tables: { allow: ["public.*"], deny: ["public.secrets", "public.admin_view"] },
  columns: { deny: ["public.users.ssn", "accounts.password_hash"] },
};

async function refused(sql: string, policy: PgPolicy = POLICY): Promise<string> {
  const verdict = await checkSql(sql, policy);
  if (verdict.ok) throw new Error(`expected a refusal for: ${sql}`);
  return verdict.reason;
}

async function allowed(sql: string, policy: PgPolicy = POLICY): Promise<Extract<SqlVerdict, { ok: true }>> {
  const verdict = await checkSql(sql, policy);
  if (!verdict.ok) throw new Error(`expected ${sql} to pass, got: ${verdict.reason}`);
  return verdict;
}

// [query, a substring of the reason]
const EVASIONS: [string, string][] = [
  // statements hidden behind comments and quoting
  ["SELECT 1; -- harmless\n DELETE FROM orders", "only one statement is allowed"],
  ["SELECT 1 /* ; */; DELETE FROM orders", "only one statement is allowed"],
  ["DEL/**/ETE FROM orders", "could not parse"],
  ["SEL/* split */ECT * FROM orders", "could not parse"],
  ["/* SELECT */ DELETE FROM orders", "DELETE is not allowed"],
  ["DO $$ BEGIN DELETE FROM orders; END $$", "DO is not allowed"],
  ["SELECT $x$ $x$; DROP TABLE orders; SELECT $x$ $x$", "only one statement is allowed"],
  ["SELECT $x$;$x$; DROP TABLE orders", "only one statement is allowed"],
  // names in disguise
  ['SELECT * FROM U&"secr\\0065ts"', "public.secrets is denied"],
  ['SELECT * FROM "public"."secrets"', "public.secrets is denied"],
  ["SELECT * FROM PUBLIC.SECRETS", "public.secrets is denied"],
  ['SELECT * FROM "Secrets"', "public.Secrets is denied"],
  ['SELECT * FROM "Public".orders', "Public.orders is not in the policy's allowed tables"],
  ["SELECT * FROM other.orders", "other.orders is not in the policy's allowed tables"],
  ["SELECT * FROM otherdb.public.orders", "cross-database names are not allowed"],
  ["SeLeCt pG_SlEeP(10)", "function pg_sleep() is not allowed"],
  ['SELECT "pg_sleep"(1)', "function pg_sleep() is not allowed"],
  ['SELECT U&"pg_sl\\0065ep"(1)', "function pg_sleep() is not allowed"],
  ["SELECT pg_catalog.pg_sleep(1)", "function pg_catalog.pg_sleep() is not allowed"],
  // CTE tricks
  [
    "WITH a AS (WITH b AS (WITH c AS (DELETE FROM orders RETURNING *) SELECT * FROM c) SELECT * FROM b) SELECT * FROM a",
    "WITH c AS (DELETE) changes data",
  ],
  ["WITH d AS (DELETE FROM orders RETURNING id) SELECT * FROM d", "WITH d AS (DELETE) changes data"],
  ["WITH u AS (UPDATE orders SET total = 0 RETURNING id) SELECT 1", "WITH u AS (UPDATE) changes data"],
  ["WITH i AS (INSERT INTO orders VALUES (1) RETURNING id) SELECT 1", "WITH i AS (INSERT) changes data"],
  ["SELECT * FROM (WITH secrets AS (SELECT 1 AS x) SELECT x FROM secrets) a, secrets", "public.secrets is denied"],
  [
    "WITH secrets AS (SELECT 1 AS x) SELECT (SELECT count(*) FROM public.secrets) FROM secrets",
    "public.secrets is denied",
  ],
  ["WITH secrets AS (SELECT * FROM secrets) SELECT * FROM secrets", "public.secrets is denied"],
  ["SELECT * FROM orders WHERE id IN (WITH s AS (SELECT 1) SELECT id FROM secrets)", "public.secrets is denied"],
  [
    "SELECT * FROM (SELECT 1) x UNION SELECT * FROM (WITH secrets AS (SELECT 1) SELECT 1) y, secrets",
    "public.secrets is denied",
  ],
  // functions in FROM, TABLESAMPLE, ROWS FROM, views
  ["SELECT * FROM pg_sleep(10)", "function pg_sleep() is not allowed"],
  ["SELECT * FROM ROWS FROM (generate_series(1, 2), pg_sleep(1))", "function pg_sleep() is not allowed"],
  ["SELECT * FROM orders TABLESAMPLE evil_method(10)", "TABLESAMPLE method evil_method is not allowed"],
  ["SELECT * FROM orders, LATERAL pg_read_file('/etc/passwd') f", "function pg_read_file() is not allowed"],
  ["SELECT * FROM admin_view", "public.admin_view is denied"],
  ["SELECT * FROM reporting.sleepy_view", "reporting.sleepy_view is not in the policy's allowed tables"],
  // statements that write, lock, configure or run code
  ["SELECT id INTO stolen FROM orders", "SELECT … INTO creates a table"],
  ["SELECT id FROM orders FOR UPDATE", "FOR UPDATE / FOR SHARE"],
  ["SELECT id FROM orders FOR SHARE", "FOR UPDATE / FOR SHARE"],
  ["SELECT id FROM orders FOR NO KEY UPDATE", "FOR UPDATE / FOR SHARE"],
  ["SELECT id FROM orders FOR KEY SHARE", "FOR UPDATE / FOR SHARE"],
  ["SELECT * FROM (SELECT id FROM orders FOR UPDATE) x", "FOR UPDATE / FOR SHARE"],
  ["COPY orders TO STDOUT", "COPY is not allowed"],
  ["COPY (SELECT 1) TO PROGRAM 'id'", "COPY is not allowed"],
  ["SET statement_timeout = 0", "SET is not allowed"],
  ["SET LOCAL default_transaction_read_only = off", "SET LOCAL is not allowed"],
  ["RESET ALL", "RESET is not allowed"],
  ["SHOW password_encryption", "SHOW is not allowed"],
  ["CALL do_things()", "CALL is not allowed"],
  ["LOCK TABLE orders", "LOCK is not allowed"],
  ["TRUNCATE orders", "TRUNCATE is not allowed"],
  ["INSERT INTO orders VALUES (1)", "INSERT is not allowed"],
  ["UPDATE orders SET total = 0", "UPDATE is not allowed"],
  ["DELETE FROM orders", "DELETE is not allowed"],
  ["MERGE INTO orders o USING orders p ON o.id = p.id WHEN MATCHED THEN DELETE", "MERGE is not allowed"],
  ["DROP TABLE orders", "DROP is not allowed"],
  ["CREATE TABLE x AS SELECT 1", "CREATE TABLE AS is not allowed"],
  ["GRANT ALL ON orders TO public", "GRANT is not allowed"],
  ["BEGIN", "transaction control"],
  ["COMMIT", "transaction control"],
  ["NOTIFY ch, 'x'", "NOTIFY is not allowed"],
  ["LISTEN ch", "LISTEN is not allowed"],
  ["PREPARE p AS SELECT 1", "PREPARE is not allowed"],
  ["EXECUTE p", "EXECUTE is not allowed"],
  ["DECLARE c CURSOR FOR SELECT 1", "DECLARE CURSOR is not allowed"],
  ["VACUUM orders", "VACUUM / ANALYZE is not allowed"],
  ["EXPLAIN ANALYZE DELETE FROM orders", "EXPLAIN ANALYZE runs the statement"],
  ["EXPLAIN ANALYZE SELECT * FROM orders", "EXPLAIN ANALYZE runs the statement"],
  ["EXPLAIN (ANALYZE) SELECT 1", "EXPLAIN ANALYZE runs the statement"],
  ["EXPLAIN (ANALYZE true, FORMAT JSON) SELECT 1", "EXPLAIN ANALYZE runs the statement"],
  ["EXPLAIN DELETE FROM orders", "EXPLAIN DELETE is not allowed"],
  ["EXPLAIN SELECT * FROM secrets", "public.secrets is denied"],
  ["SELECT 1; SELECT 2", "only one statement is allowed"],
  // dangerous functions
  ["SELECT pg_read_file('/etc/passwd')", "function pg_read_file() is not allowed"],
  ["SELECT pg_read_binary_file('/etc/passwd')", "function pg_read_binary_file() is not allowed"],
  ["SELECT * FROM pg_ls_dir('.')", "function pg_ls_dir() is not allowed"],
  ["SELECT lo_import('/etc/passwd')", "function lo_import() is not allowed"],
  ["SELECT lo_export(1, '/tmp/x')", "function lo_export() is not allowed"],
  ["SELECT * FROM dblink('host=evil', 'DELETE FROM orders') AS t(x int)", "function dblink() is not allowed"],
  ["SELECT dblink_exec('host=evil', 'x')", "function dblink_exec() is not allowed"],
  ["SELECT set_config('default_transaction_read_only', 'off', false)", "function set_config() is not allowed"],
  ["SELECT current_setting('app.jwt_secret')", "function current_setting() is not allowed"],
  ["SELECT pg_terminate_backend(1)", "function pg_terminate_backend() is not allowed"],
  ["SELECT pg_cancel_backend(1)", "function pg_cancel_backend() is not allowed"],
  ["SELECT txid_current()", "function txid_current() is not allowed"],
  ["SELECT nextval('orders_id_seq')", "function nextval() is not allowed"],
  ["SELECT setval('orders_id_seq', 1)", "function setval() is not allowed"],
  ["SELECT query_to_xml('DELETE FROM orders', true, true, '')", "function query_to_xml() is not allowed"],
  ["SELECT public.evil()", "function public.evil() is not allowed"],
  ["SELECT evil()", "function evil() is not allowed"],
  ["SELECT id FROM orders ORDER BY pg_sleep(1)", "function pg_sleep() is not allowed"],
  ["SELECT count(*) FILTER (WHERE pg_sleep(1) IS NULL) FROM orders", "function pg_sleep() is not allowed"],
  ["SELECT 1 OPERATOR(public.===) 1", "operator public.=== is not allowed"],
  ["SELECT xmlelement(name x, 1)", "unsupported SQL construct: XmlExpr"],
  ["SELECT id FROM orders ORDER BY id USING OPERATOR(public.<)", "operator public.< is not allowed"],
  ["SELECT JSON_OBJECT('a': 1)", "unsupported SQL construct: JsonObjectConstructor"],
  ["SELECT * FROM json_to_record('{}') AS x(a int)", "function json_to_record() is not allowed"],
  ["SELECT * FROM orders WHERE id IN (TABLE secrets)", "public.secrets is denied"],
  ["SELECT id FROM orders WHERE (SELECT true FROM secrets)", "public.secrets is denied"],
  ["SELECT string_agg(note, ',' ORDER BY pg_sleep(1)) FROM orders", "function pg_sleep() is not allowed"],
  ["SELECT CASE WHEN true THEN pg_sleep(1) END", "function pg_sleep() is not allowed"],
  ["SELECT coalesce(pg_sleep(1), 1)", "function pg_sleep() is not allowed"],
  ["SELECT ARRAY[pg_sleep(1)]", "function pg_sleep() is not allowed"],
  // system catalogs
  ["SELECT * FROM pg_authid", "pg_catalog.pg_authid is never readable"],
  ["SELECT * FROM pg_shadow", "pg_catalog.pg_shadow is never readable"],
  ["SELECT * FROM information_schema.tables", "information_schema.tables is a system catalog"],
  ["SELECT * FROM pg_catalog.pg_class", "pg_catalog.pg_class is a system catalog"],
  ["SELECT relname FROM pg_class", "pg_catalog.pg_class is a system catalog"],
  ["SELECT * FROM pg_toast.pg_toast_1234", "pg_toast.pg_toast_1234 is a system catalog"],
  // parameters, empty input, garbage
  ["SELECT $1", "query parameters ($1, $2, …) are not supported"],
  ["SELECT * FROM orders WHERE id = $1", "query parameters"],
  ["", "empty query"],
  ["   \n\t ", "empty query"],
  ["-- only a comment", "empty query"],
  ["/* only a comment */", "empty query"],
  [";", "empty query"],
  ["garbage here", 'could not parse: syntax error at or near "garbage" at position 0'],
  ["SELECT 'unterminated", "could not parse"],
  ["SELECT * FROM", "could not parse"],
  ["\u0000", "NUL character"],
  ["SELECT 1\u0000; DELETE FROM orders", "NUL character"],
];

describe("SQL policy: the evasion corpus is refused", () => {
  for (const [sql, reason] of EVASIONS) {
    test(JSON.stringify(sql), async () => {
      expect(await refused(sql)).toContain(reason);
    });
  }
});

describe("SQL policy: ordinary reads pass", () => {
  const PASSING: [string, string[]][] = [
    ["SELECT id, total FROM orders WHERE total > 10 ORDER BY id LIMIT 5", ["public.orders"]],
    [
      "SELECT o.id, u.name FROM orders o JOIN users u ON u.id = o.user_id LEFT JOIN items i ON i.order_id = o.id",
      ["public.items", "public.orders", "public.users"],
    ],
    ["WITH big AS (SELECT id FROM orders WHERE total > 100) SELECT count(*) FROM big", ["public.orders"]],
    ["WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT n FROM r", []],
    [
      "SELECT id, row_number() OVER (PARTITION BY user_id ORDER BY total DESC), lag(total) OVER w FROM orders WINDOW w AS (ORDER BY id)",
      ["public.orders"],
    ],
    [
      "SELECT user_id, count(*), sum(total), avg(total), max(placed_at) FROM orders GROUP BY user_id HAVING count(*) > 1",
      ["public.orders"],
    ],
    [
      "SELECT id FROM orders UNION SELECT id FROM items EXCEPT SELECT 3 INTERSECT SELECT 4",
      ["public.items", "public.orders"],
    ],
    ["VALUES (1, 'a'), (2, 'b')", []],
    ["SELECT * FROM (VALUES (1), (2)) AS v(x)", []],
    ["TABLE orders", ["public.orders"]],
    ["SELECT * FROM orders", ["public.orders"]],
    [
      "SELECT date_trunc('day', placed_at), extract(year FROM placed_at), to_char(now(), 'YYYY') FROM orders",
      ["public.orders"],
    ],
    [
      "SELECT lower(name), trim(both ' ' FROM name), substring(name FROM 1 FOR 3), name ILIKE 'a%', name SIMILAR TO 'x' FROM users",
      ["public.users"],
    ],
    [
      "SELECT coalesce(total, 0), nullif(total, 0), greatest(1, 2), CASE WHEN total > 1 THEN 'big' END FROM orders",
      ["public.orders"],
    ],
    [
      "SELECT jsonb_build_object('id', id), percentile_cont(0.5) WITHIN GROUP (ORDER BY total) FROM orders GROUP BY id",
      ["public.orders"],
    ],
    ["SELECT * FROM generate_series(1, 3) AS g(n)", []],
    [
      "SELECT id FROM orders o WHERE EXISTS (SELECT 1 FROM items i WHERE i.order_id = o.id)",
      ["public.items", "public.orders"],
    ],
    [
      "SELECT 'pg_sleep'::regproc, 'orders'::regclass, now() AT TIME ZONE 'UTC', name COLLATE \"C\" FROM users",
      ["public.users"],
    ],
    ["SELECT $x$;DROP TABLE orders;$x$", []],
    ["SELECT * FROM orders TABLESAMPLE bernoulli(10) REPEATABLE (1)", ["public.orders"]],
    ["SELECT DISTINCT ON (user_id) user_id, total FROM orders ORDER BY user_id, total DESC", ["public.orders"]],
    ["SELECT pg_catalog.lower('X'), current_date, current_user", []],
  ];
  for (const [sql, tables] of PASSING) {
    test(sql, async () => {
      const verdict = await allowed(sql);
      expect(verdict.tables).toEqual(tables);
      expect(verdict.kind).toBe("select");
    });
  }

  test("EXPLAIN without ANALYZE passes and is reported as an explain", async () => {
    const verdict = await allowed("EXPLAIN (FORMAT JSON, COSTS false, ANALYZE false) SELECT * FROM orders");
    expect(verdict.kind).toBe("explain");
    expect(verdict.tables).toEqual(["public.orders"]);
  });

  test("EXPLAIN can be turned off", async () => {
    expect(await refused("EXPLAIN SELECT 1", { ...POLICY, explain: false })).toContain("EXPLAIN is turned off");
  });

  test("system catalogs pass when the policy allows them, except the ones holding secrets", async () => {
    const policy: PgPolicy = { ...POLICY, system_catalogs: true };
    expect((await allowed("SELECT relname FROM pg_class", policy)).tables).toEqual(["pg_catalog.pg_class"]);
    expect((await allowed("SELECT table_name FROM information_schema.tables", policy)).tables).toEqual([
      "information_schema.tables",
    ]);
    expect(await refused("SELECT rolpassword FROM pg_authid", policy)).toContain("never readable");
    // A pg_-named table of the search path is read when pg_catalog has none of that name.
    const narrow: PgPolicy = { tables: { allow: ["public.orders"] }, system_catalogs: true };
    expect(await refused("SELECT * FROM pg_stuff", narrow)).toContain("pg_stuff could also mean public.pg_stuff");
    expect((await allowed("SELECT * FROM pg_catalog.pg_class", narrow)).tables).toEqual(["pg_catalog.pg_class"]);
  });

  test("the statement is normalized and fingerprinted for the audit trail", async () => {
    const a = await allowed("SELECT id FROM orders WHERE total > 10 AND note = 'secret text'");
    const b = await allowed("SELECT id FROM orders WHERE total > 99 AND note = 'other'");
    expect(a.normalized).toBe("SELECT id FROM orders WHERE total > $1 AND note = $2");
    expect(a.normalized).not.toContain("secret text");
    expect(a.fingerprint).toBe(b.fingerprint);
    expect(a.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  test("a refusal still carries the normalized text when the statement parsed", async () => {
    const verdict = await checkSql("DELETE FROM orders WHERE id = 5", POLICY);
    expect(verdict).toMatchObject({ ok: false, code: "policy", normalized: "DELETE FROM orders WHERE id = $1" });
    expect(await checkSql("SELEC 1", POLICY)).toMatchObject({ ok: false, code: "parse", normalized: null });
  });
});

describe("SQL policy: hostile sizes", () => {
  test("absurd nesting is refused and the parser keeps working afterwards", async () => {
    expect(await refused(`SELECT ${"(".repeat(20_000)}1${")".repeat(20_000)}`)).toContain("could not parse");
    expect(await refused(`SELECT ${Array.from({ length: 20_000 }, () => "1").join("+")}`)).toContain("could not parse");
    await allowed("SELECT 1");
  });
});

describe("SQL policy: tables", () => {
  test("without an allow list nothing is readable", async () => {
    expect(await refused("SELECT 1 FROM orders", {})).toContain("public.orders is not in the policy's allowed tables");
    await allowed("SELECT 1", {});
  });

  test("an unqualified name must be allowed in every schema of the search path", async () => {
    const policy: PgPolicy = { search_path: ["app", "public"], tables: { allow: ["app.*"] } };
    expect(await refused("SELECT 1 FROM orders", policy)).toContain(
      "public.orders is not in the policy's allowed tables",
    );
    expect((await allowed("SELECT 1 FROM app.orders", policy)).tables).toEqual(["app.orders"]);
  });

  test("unqualified allow entries mean the first schema of the search path, and deny beats allow", async () => {
    const policy: PgPolicy = { search_path: ["app"], tables: { allow: ["orders", "users"], deny: ["app.users"] } };
    expect((await allowed("SELECT id FROM orders", policy)).tables).toEqual(["app.orders"]);
    expect(await refused("SELECT id FROM users", policy)).toContain("app.users is denied");
  });

  test("extra functions named by the policy pass", async () => {
    const policy: PgPolicy = { ...POLICY, functions: { allow: ["analytics.score", "similarity"] } };
    await allowed("SELECT analytics.score(id), similarity('a', 'b') FROM orders", policy);
    expect(await refused("SELECT analytics.other(id) FROM orders", policy)).toContain("analytics.other()");
  });
});

describe("SQL policy: denied columns, refuse mode", () => {
  const CASES: [string, string][] = [
    ["SELECT ssn FROM users", "public.users.ssn is not allowed"],
    ["SELECT u.ssn FROM users u", "public.users.ssn is not allowed"],
    ["SELECT public.users.ssn FROM users", "public.users.ssn is not allowed"],
    ["SELECT id FROM users WHERE ssn LIKE '1%'", "public.users.ssn is not allowed"],
    ["SELECT o.id FROM orders o JOIN users u ON u.ssn = o.note", "public.users.ssn is not allowed"],
    ["SELECT id FROM users ORDER BY ssn", "public.users.ssn is not allowed"],
    ["SELECT id FROM orders WHERE note IN (SELECT ssn FROM users)", "public.users.ssn is not allowed"],
    ["SELECT x FROM (SELECT ssn AS x FROM users) s", "public.users.ssn is not allowed"],
    ["SELECT * FROM users", "list the columns you need; public.users.ssn is not allowed"],
    ["SELECT u.* FROM users u", "list the columns you need; public.users.ssn is not allowed"],
    ["TABLE users", "list the columns you need; public.users.ssn is not allowed"],
    ["SELECT users FROM users", "list the columns you need; public.users.ssn is not allowed"],
    ["SELECT row_to_json(u) FROM users u", "list the columns you need; public.users.ssn is not allowed"],
    ["SELECT to_jsonb(u.*) FROM users u", "list the columns you need; public.users.ssn is not allowed"],
    ["SELECT (u).ssn FROM users u", "list the columns you need; public.users.ssn is not allowed"],
    ["SELECT password_hash FROM accounts", "public.accounts.password_hash is not allowed"],
    ["SELECT * FROM accounts", "list the columns you need; public.accounts.password_hash is not allowed"],
    ["SELECT a FROM users AS u(a, b)", "column aliases on public.users hide which columns are read"],
    ["SELECT 1 FROM users NATURAL JOIN orders", "NATURAL JOIN may compare columns the policy denies"],
    ["SELECT 1 FROM users JOIN orders USING (ssn)", "public.users.ssn is not allowed"],
    ["SELECT j.ssn FROM (users JOIN orders ON true) AS j", "public.users.ssn is not allowed"],
    ["SELECT lower(ssn) FROM users", "public.users.ssn is not allowed"],
    ["SELECT (u.*)::text FROM users u", "list the columns you need; public.users.ssn is not allowed"],
    ["SELECT ROW(u.*) FROM users u", "list the columns you need; public.users.ssn is not allowed"],
    ["SELECT 1 FROM users u, LATERAL (SELECT u.ssn AS s) x", "public.users.ssn is not allowed"],
    [
      "SELECT id FROM orders WHERE EXISTS (SELECT 1 FROM users WHERE users.ssn = orders.note)",
      "public.users.ssn is not allowed",
    ],
    ["SELECT (SELECT u.ssn FROM orders LIMIT 1) FROM users u", "public.users.ssn is not allowed"],
  ];
  for (const [sql, reason] of CASES) {
    test(sql, async () => {
      expect(await refused(sql)).toContain(reason);
    });
  }

  test("a bare column deny applies to every table, so * is refused wherever the column might be", async () => {
    const policy: PgPolicy = { ...POLICY, columns: { deny: ["password_hash"] } };
    expect(await refused("SELECT * FROM orders", policy)).toContain(
      "list the columns you need; public.orders.password_hash is not allowed",
    );
    expect(await refused("SELECT password_hash FROM orders", policy)).toContain("password_hash is not allowed");
    await allowed("SELECT id FROM orders", policy);
  });

  test("other columns of the same table pass", async () => {
    await allowed("SELECT id, name FROM users WHERE name <> '' ORDER BY id");
    await allowed("SELECT * FROM orders");
  });
});

describe("SQL policy: denied columns, mask mode", () => {
  const MASK: PgPolicy = { ...POLICY, columns: { deny: ["public.users.ssn", "password_hash"], on_denied: "mask" } };
  const MASKED: [string, string[]][] = [
    ["SELECT id, ssn FROM users", ["ssn"]],
    ["SELECT id, ssn AS tax_id FROM users", ["tax_id"]],
    ["SELECT * FROM users", ["password_hash", "ssn"]],
    ["SELECT x FROM (SELECT ssn AS x FROM users) s", ["x"]],
    ["WITH c AS (SELECT id, ssn FROM users) SELECT c.* FROM c", ["ssn"]],
    ["SELECT id, name FROM users UNION ALL SELECT id, ssn FROM users", ["name"]],
    ["SELECT (SELECT ssn FROM users LIMIT 1) AS first_ssn", ["first_ssn"]],
    ["WITH RECURSIVE r(a, b) AS (SELECT ssn, name FROM users UNION ALL SELECT b, a FROM r) SELECT b FROM r", ["b"]],
    ["SELECT id FROM users", []],
  ];
  for (const [sql, mask] of MASKED) {
    test(`${sql} masks ${mask.join(", ") || "nothing"}`, async () => {
      expect((await allowed(sql, MASK)).forcedMask).toEqual(mask);
    });
  }

  const UNMAPPABLE: [string, string][] = [
    ["SELECT lower(ssn) FROM users", "public.users.ssn is masked by the policy; select it as a plain column"],
    ["SELECT id FROM users WHERE ssn = '123'", "public.users.ssn is masked by the policy"],
    ["SELECT count(*) FROM users GROUP BY ssn", "public.users.ssn is masked by the policy"],
    ["SELECT ssn FROM users ORDER BY 1", "output column 1 is masked"],
    ["SELECT ssn AS s FROM users ORDER BY s", "s is masked by the policy; it cannot be used to sort"],
    ["SELECT row_to_json(u) FROM users u", "masked and cannot be read as part of a whole row"],
    ["SELECT (SELECT ssn FROM users LIMIT 1)", "name every column that carries a masked value with AS"],
    ["SELECT * FROM users UNION SELECT * FROM users", "cannot tell which output column of the set operation"],
    ["SELECT ssn || 'x' AS s FROM users", "public.users.ssn is masked by the policy"],
    ["SELECT ssn::int FROM users", "public.users.ssn is masked by the policy"],
    ["SELECT x::int FROM (SELECT ssn AS x FROM users) s", "s.x is masked by the policy"],
  ];
  for (const [sql, reason] of UNMAPPABLE) {
    test(`${sql} is refused`, async () => {
      expect(await refused(sql, MASK)).toContain(reason);
    });
  }
});

describe("validatePgPolicy", () => {
  test("a full policy is accepted as written", () => {
    const policy = {
      search_path: ["app", "public"],
      tables: { allow: ["app.*", "public.orders", "orders"], deny: ["app.secrets"] },
      columns: { deny: ["app.users.ssn", "users.email", "password"], on_denied: "mask" },
      functions: { allow: ["similarity", "analytics.score"] },
      system_catalogs: false,
      explain: true,
    };
    expect(validatePgPolicy(policy)).toEqual(policy as PgPolicy);
    expect(validatePgPolicy({})).toEqual({});
  });

  const ERRORS: [unknown, string][] = [
    ["nope", "policy.postgres: must be an object"],
    [{ tables: { allow: ["public.orders", "a.b.c"] } }, 'policy.postgres.tables.allow[1]: "a.b.c" is not a valid name'],
    [{ tables: { allow: [1] } }, "policy.postgres.tables.allow[0]: must be a non-empty name"],
    [{ tables: { allow: "public.*" } }, "policy.postgres.tables.allow: must be a list of names"],
    [{ tables: { deny: ["*.orders"] } }, "policy.postgres.tables.deny[0]"],
    [{ tables: { alow: [] } }, "policy.postgres.tables.alow: unknown setting"],
    [{ columns: { deny: ["a.b.c.d"] } }, "policy.postgres.columns.deny[0]"],
    [{ columns: { on_denied: "hide" } }, 'policy.postgres.columns.on_denied: must be "refuse" or "mask"'],
    [{ functions: { allow: ["a.b.c"] } }, "policy.postgres.functions.allow[0]"],
    [{ search_path: [] }, "policy.postgres.search_path: must name at least one schema"],
    [{ system_catalogs: "yes" }, "policy.postgres.system_catalogs: must be true or false"],
    [{ explain: 1 }, "policy.postgres.explain: must be true or false"],
    [{ tabels: {} }, "policy.postgres.tabels: unknown setting"],
  ];
  for (const [raw, message] of ERRORS) {
    test(message, () => {
      expect(() => validatePgPolicy(raw)).toThrow(message);
    });
  }

  test("the path prefix is the caller's", () => {
    expect(() => validatePgPolicy({ explain: "x" }, "relay.databases[0].policy")).toThrow(
      "relay.databases[0].policy.explain: must be true or false",
    );
  });
});
