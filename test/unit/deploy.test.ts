// The deployment files are valid for the tools that read them (checked where the tool is installed).
import { expect, test } from "bun:test";
import { join } from "node:path";

const root = join(import.meta.dir, "..", "..");
const caddy = Bun.which("caddy");

test.skipIf(!caddy)("scripts/deploy/Caddyfile passes `caddy validate`", async () => {
  const proc = Bun.spawn(
    [caddy as string, "validate", "--config", join(root, "scripts/deploy/Caddyfile"), "--adapter", "caddyfile"],
    { stdout: "pipe", stderr: "pipe" },
  );
  const output = (await new Response(proc.stdout).text()) + (await new Response(proc.stderr).text());
  expect({ code: await proc.exited, valid: output.includes("Valid configuration") }).toEqual({ code: 0, valid: true });
});
if (!caddy) console.warn("deploy.test: caddy is not installed; the Caddyfile was not validated");
