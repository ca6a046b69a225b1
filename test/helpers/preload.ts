// Loaded before every test file (bunfig.toml): stops the shared PostgreSQL server when the run ends.
import { afterAll } from "bun:test";
import { stopPostgresServer } from "./postgres-server.ts";

afterAll(async () => {
  await stopPostgresServer();
});
