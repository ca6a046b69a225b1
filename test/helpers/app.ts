// The app's dependencies as most API tests need them: the tenant door on the runtime connection, a key ring,
// sessions signed with a fixed test secret, nothing logged.
import type { AppDeps } from "../../src/http/app.ts";
import type { JwtKeys } from "../../src/identity/jwt.ts";
import { silentLogger } from "../../src/log.ts";
import { tenantDoor, withoutTenant } from "../../src/db/tenant.ts";
import type { KekProvider } from "../../src/secrets/keyring.ts";
import type { TestDb } from "./db.ts";

/** `jwt`: the session signing keys, for a test that signs tokens itself (default a fixed test secret). */
export function apiDeps(
  db: TestDb,
  kek: KekProvider,
  { jwt, ...overrides }: Partial<AppDeps> & { jwt?: JwtKeys } = {},
): AppDeps {
  return {
    logger: silentLogger,
    readiness: async () => [],
    version: "t",
    bodyLimitBytes: 1 << 20,
    door: tenantDoor(db.app),
    kek,
    sessions: {
      jwt: jwt ?? {
        current: new TextEncoder().encode("api-test-session-secret-0123456789-abcdefghij"),
        previous: undefined,
      },
      anonymous: (fn) => withoutTenant(db.app, fn),
      idleMinutes: 60,
      absoluteDays: 1,
    },
    ...overrides,
  };
}
