// The relay agent's own pieces: relay.json is validated whole with errors that name their path (and env
// overrides keep secrets out of the file), the pseudonymization key stays the same across starts, the local
// audit log's hash chain catches an edited or removed line, and reconnects back off with jitter.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseRelayConfig } from "../../src/relay/agent/config.ts";
import { relayHmacKey } from "../../src/relay/agent/keys.ts";
import { RelayLog, verifyRelayLog } from "../../src/relay/agent/audit-log.ts";
import { backoffMs } from "../../src/relay/agent/agent.ts";
import { newToken } from "../../src/identity/tokens.ts";

const dir = mkdtempSync(join(tmpdir(), "causeloop-relay-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const token = newToken("relay", "ws_01jd0000000000000000000000").token;
const base = {
  server: "https://causeloop.example",
  token,
  databases: [{ name: "main", kind: "postgres", url: "postgres://reader:pw@db.internal/app" }],
  policy: { postgres: { tables: { allow: ["public.*"] } } },
};

test("a valid relay.json loads with defaults; the environment overrides the token, server and database URLs", () => {
  const config = parseRelayConfig(base, dir, {});
  expect(config.server.origin).toBe("https://causeloop.example");
  expect(config.limits).toEqual({ max_rows: 1000, max_bytes: 4 * 1024 * 1024, timeout_ms: 30_000 });
  expect(config.audit_log).toBe(join(dir, "causeloop-relay-audit.jsonl"));
  const other = newToken("relay", "ws_01jd0000000000000000000001").token;
  const overridden = parseRelayConfig({ ...base, token: undefined }, dir, {
    CAUSELOOP_RELAY_TOKEN: other,
    CAUSELOOP_RELAY_SERVER: "https://eu.causeloop.example",
    CAUSELOOP_RELAY_DB_MAIN_URL: "postgres://reader:other@db2.internal/app",
  });
  expect(overridden.token).toBe(other);
  expect(overridden.server.host).toBe("eu.causeloop.example");
  expect(overridden.databases[0]).toMatchObject({ url: "postgres://reader:other@db2.internal/app" });
});

test("every mistake is one error naming where it is", () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ ...base, server: "http://causeloop.example" }, /^server: must be https/],
    [{ ...base, token: "clp_pat_nope" }, /^token: is not a relay token/],
    [{ ...base, databases: [] }, /^databases: must list at least one/],
    [
      { ...base, databases: [{ name: "main", kind: "oracle" }] },
      /^databases\[0\]\.kind: must be postgres, mongodb or dynamodb/,
    ],
    [
      { ...base, databases: [{ name: "main", kind: "postgres", url: "mysql://x" }] },
      /^databases\[0\]\.url: must be a postgres/,
    ],
    [{ ...base, databases: [base.databases[0], base.databases[0]] }, /^databases\[1\]\.name: main is listed twice/],
    [
      { ...base, databases: [{ name: "o", kind: "dynamodb", region: "eu-west-1", role_arn: "not-an-arn" }] },
      /^databases\[0\]\.role_arn/,
    ],
    [{ ...base, limits: { max_rows: 0 } }, /^limits\.max_rows: must be an integer/],
    [{ ...base, surprise: true }, /^surprise: unknown setting/],
    [{ ...base, policy: { postgres: { tables: { allow: [42] } } } }, /^policy\.postgres\.tables\.allow/],
    [{ ...base, masking: { columns: [{ match: "email", action: "shred" }] } }, /^masking\.columns\[0\]\.action/],
  ];
  for (const [raw, message] of cases) expect(() => parseRelayConfig(raw, dir, {})).toThrow(message);
  // http:// only for a server on loopback (tests), or when the client says so.
  expect(parseRelayConfig({ ...base, server: "http://127.0.0.1:8080" }, dir, {}).server.port).toBe("8080");
});

test("the pseudonymization key is created once (0600) and read back the same; a short key is refused", () => {
  const file = join(dir, "relay.key");
  const first = relayHmacKey(file, {});
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(Buffer.from(relayHmacKey(file, {})).equals(Buffer.from(first))).toBe(true);
  expect(() => relayHmacKey(file, { CAUSELOOP_RELAY_HMAC_KEY: "abcd" })).toThrow(/at least 32 bytes/);
  const fromEnv = relayHmacKey(file, { MY_KEY: "ab".repeat(32) }, "MY_KEY");
  expect(fromEnv.length).toBe(32);
});

test("the relay's audit log is hash-chained: an edited, removed or reordered line is found", () => {
  const path = join(dir, "audit.jsonl");
  const log = new RelayLog(path);
  for (let i = 0; i < 4; i++) log.append({ event: "query", query_id: `q${i}`, row_count: i });
  log.close();
  expect(verifyRelayLog(path)).toEqual({ ok: true, entries: 4 });
  // A restart continues the same chain.
  const again = new RelayLog(path);
  again.append({ event: "started" });
  again.close();
  expect(verifyRelayLog(path)).toEqual({ ok: true, entries: 5 });
  const lines = readFileSync(path, "utf8").trimEnd().split("\n");
  writeFileSync(
    path,
    `${[lines[0], lines[1]?.replace('"row_count":1', '"row_count":9'), ...lines.slice(2)].join("\n")}\n`,
  );
  expect(verifyRelayLog(path)).toMatchObject({ ok: false, line: 2 });
  writeFileSync(path, `${[lines[0], ...lines.slice(2)].join("\n")}\n`);
  expect(verifyRelayLog(path)).toMatchObject({ ok: false, line: 2 });
});

test("reconnects back off exponentially with full jitter, capped at 30 s", () => {
  expect(backoffMs(0, () => 1)).toBe(500);
  expect(backoffMs(3, () => 1)).toBe(4000);
  expect(backoffMs(20, () => 1)).toBe(30_000);
  expect(backoffMs(20, () => 0)).toBe(0);
  const spread = new Set(Array.from({ length: 20 }, () => backoffMs(6)));
  expect(spread.size).toBeGreaterThan(10);
});
