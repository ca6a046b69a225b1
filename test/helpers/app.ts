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

/** Calls the app as the bearer of `token` with a JSON body; answers the status and the parsed body. */
export function jsonCaller<T = Record<string, unknown>>(
  app: { fetch(request: Request): Promise<Response> },
  token: () => string,
) {
  return async (method: string, path: string, body?: unknown) => {
    const response = await app.fetch(
      new Request(`http://localhost${path}`, {
        method,
        body: body ? JSON.stringify(body) : undefined,
        headers: { authorization: `Bearer ${token()}`, "content-type": "application/json" },
      }),
    );
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as T };
  };
}
