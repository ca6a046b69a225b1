// The deployment files are valid for the tools that read them (checked where the tool is installed).
import { expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
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

const analyze = Bun.which("systemd-analyze");

test.skipIf(!analyze)(
  "scripts/deploy/causeloop.service passes `systemd-analyze verify` without a warning",
  async () => {
    // verify wants the executable to exist: the unit as shipped, pointed at this machine's bun.
    const unit = (await Bun.file(join(root, "scripts/deploy/causeloop.service")).text()).replace(
      "/usr/local/bin/causeloop",
      process.execPath,
    );
    const dir = mkdtempSync(join(tmpdir(), "causeloop-unit-"));
    const path = join(dir, "causeloop.service");
    await Bun.write(path, unit);
    const proc = Bun.spawn([analyze as string, "verify", path], { stdout: "pipe", stderr: "pipe" });
    const output = (await new Response(proc.stdout).text()) + (await new Response(proc.stderr).text());
    expect({ code: await proc.exited, output: output.trim() }).toEqual({ code: 0, output: "" });
    for (const directive of [
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
      "ProtectHome=yes",
      "PrivateTmp=yes",
      "CapabilityBoundingSet=\n",
      "RestrictAddressFamilies=",
      "LimitNOFILE=",
      "Restart=on-failure",
      "ReadWritePaths=",
    ])
      expect(unit).toContain(directive);
  },
);
if (!analyze) console.warn("deploy.test: systemd-analyze is not installed; the unit was not verified");
