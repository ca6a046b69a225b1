import { expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../../src/config.ts";

test("no DATABASE_URL means embedded PGlite in the data dir", () => {
  const config = loadConfig({ CAUSELOOP_DATA_DIR: "/srv/causeloop" });
  expect(config.engine).toBe("pglite");
  expect(config.dataDir).toBe("/srv/causeloop");
  expect(config.port).toBe(8080);
  expect(config.bodyLimitBytes).toBe(1024 * 1024);
});

test("DATABASE_URL selects PostgreSQL and honours sslmode", () => {
  const config = loadConfig({ DATABASE_URL: "postgresql://causeloop_app:pw@ep-x.neon.tech/causeloop?sslmode=require" });
  expect(config.engine).toBe("postgres");
  expect(config.databaseUrl).toMatchObject({
    host: "ep-x.neon.tech",
    port: 5432,
    database: "causeloop",
    user: "causeloop_app",
    sslmode: "require",
  });
});

test("bad settings are one clear error that never repeats the password", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ DATABASE_URL: "not a url" }, /DATABASE_URL is not a valid URL/],
    [{ DATABASE_URL: "mysql://u:secretpw@h/db" }, /must start with postgres/],
    [{ DATABASE_URL: "postgres://u:secretpw@h" }, /names no database/],
    [{ DATABASE_URL: "postgres://u:secretpw@h/db?sslmode=maybe" }, /unknown sslmode/],
    [{ CAUSELOOP_PORT: "70000" }, /port must be a whole number/],
    [{ CAUSELOOP_LOG_LEVEL: "loud" }, /CAUSELOOP_LOG_LEVEL/],
  ];
  for (const [env, message] of cases) {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain("secretpw");
  }
});

test("flags override the environment", () => {
  const config = loadConfig({ CAUSELOOP_PORT: "9000", CAUSELOOP_DATA_DIR: "/a" }, { port: "9100", dataDir: "/b" });
  expect(config.port).toBe(9100);
  expect(config.dataDir).toBe("/b");
});
