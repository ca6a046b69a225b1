// The OpenAPI contract, checked: builds the app with every capability (as `serve` composes it), writes the
// document it serves at /openapi.json to dist/openapi.json, and lints it with Redocly's recommended rules.
// Exit code: Redocly's (non-zero on any error). Part of `bun run test`.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createApp } from "../src/http/app.ts";
import { silentLogger } from "../src/log.ts";
import { LocalKeyRing } from "../src/secrets/keyring.ts";
import { exportLinks } from "../src/governance/export-links.ts";
import { localStore } from "../src/governance/storage.ts";
import { generatePkcs8, signerFromPkcs8 } from "../src/audit/signing.ts";
import { createMetrics } from "../src/observability/metrics.ts";
import { metricsRoutes } from "../src/observability/routes.ts";

const root = join(import.meta.dir, "..");
const unused = async (): Promise<never> => {
  throw new Error("the contract is generated without a database");
};
const signer = await signerFromPkcs8(await generatePkcs8());
const links = exportLinks(new Uint8Array(32), 15);
const app = createApp({
  logger: silentLogger,
  readiness: async () => [],
  version: "contract",
  bodyLimitBytes: 1 << 20,
  door: unused,
  kek: new LocalKeyRing(Buffer.from(new Uint8Array(32)).toString("base64")),
  signer,
  exports: { links, store: localStore(join(root, "dist", "contract-exports"), links), door: unused },
  rtbf: {
    keys: {
      hmacKey: await crypto.subtle.importKey("raw", new Uint8Array(32), { name: "HMAC", hash: "SHA-256" }, false, [
        "sign",
      ]),
      signer,
    },
    approve: unused,
  },
  sessions: {
    jwt: { current: new Uint8Array(32), previous: undefined },
    anonymous: unused,
    idleMinutes: 60,
    absoluteDays: 1,
  },
  // GET /metrics exists when CAUSELOOP_METRICS_TOKEN is set: lint it too.
  capabilities: [metricsRoutes(createMetrics(), "contract-lint-metrics-token")],
});
const response = await app.fetch(new Request("http://localhost/openapi.json"));
if (response.status !== 200) throw new Error(`/openapi.json answered ${response.status}`);
mkdirSync(join(root, "dist"), { recursive: true });
const file = join(root, "dist", "openapi.json");
await Bun.write(file, await response.text());
const lint = Bun.spawn([join(root, "node_modules", ".bin", "redocly"), "lint", file, "--format=summary"], {
  cwd: root,
  stdout: "inherit",
  stderr: "inherit",
  env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
});
process.exit(await lint.exited);
