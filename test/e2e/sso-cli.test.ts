// SSO connections from the operator's command line, with the compiled binary: created from a settings file
// (the secret never on the command line, never printed), disabled, listed, deleted; bad input is one line.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onboardAcme, runBinary } from "../helpers/binary.ts";
import { keyPair } from "../helpers/saml-idp.ts";

const root = mkdtempSync(join(tmpdir(), "causeloop-e2e-sso-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

test("causeloop sso create|update|list|delete manage a workspace's identity providers", async () => {
  const dataDir = join(root, "data");
  const onboarded = await onboardAcme(dataDir, ["--json"]);
  expect(onboarded.code).toBe(0);
  const workspace = (JSON.parse(onboarded.stdout) as { workspace_id: string }).workspace_id;
  const secret = "client-secret-never-printed-0123";
  const settings = join(root, "corp.json");
  writeFileSync(
    settings,
    JSON.stringify({
      provider: "saml",
      display_name: "Corp",
      issuer: "https://idp.example.com",
      sso_url: "https://idp.example.com/sso",
      idp_certificate: keyPair("cli-idp").cert,
      client_secret: secret,
    }),
  );
  const at = ["--workspace", workspace, "--data-dir", dataDir];
  const created = await runBinary(["sso", "create", "--file", settings, "--json", ...at]);
  expect(created.stderr).toBe("");
  expect(created.code).toBe(0);
  expect(created.stdout).not.toContain(secret);
  const id = (JSON.parse(created.stdout) as { id: string }).id;
  const changes = join(root, "disable.json");
  writeFileSync(changes, JSON.stringify({ status: "disabled" }));
  expect((await runBinary(["sso", "update", id, "--file", changes, ...at])).stdout).toContain("status: disabled");
  const listed = await runBinary(["sso", "list", ...at]);
  expect(listed.stdout).toMatch(new RegExp(`${id}\\s+saml\\s+disabled\\s+Corp`));
  writeFileSync(changes, JSON.stringify({ provider: "oidc" }));
  const refused = await runBinary(["sso", "update", id, "--file", changes, ...at]);
  expect(refused.code).not.toBe(0);
  expect(refused.stderr.trim().split("\n")).toHaveLength(1);
  expect((await runBinary(["sso", "delete", id, "--yes", ...at])).code).toBe(0);
  expect((await runBinary(["sso", "list", ...at])).stdout).toContain("no SSO connections");
});
