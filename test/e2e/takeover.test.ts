// The account-takeover attacks against the compiled binary, on PGlite and PostgreSQL 16, over real HTTP: an
// operator onboards two clients with the CLI; the attacking tenant's admin invites the victim's owner (onboarded
// with a token, no password) and tries to set its password; a leaked narrow token tries to become the account.
// The victim's legitimate path (setup token, sign-in, joining the other workspace, MFA everywhere) still works.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as OTPAuth from "otpauth";
import { runBinary, startServe, type ServeProcess } from "../helpers/binary.ts";
import { createTestDb, type TestDb } from "../helpers/db.ts";

type Body = Record<string, unknown>;

async function scenario(
  env: Record<string, string>,
  extraArgs: string[],
  serve: () => Promise<ServeProcess>,
): Promise<void> {
  const onboard = async (slug: string, email: string) => {
    const run = await runBinary(["onboard", slug, "--name", slug, "--admin-email", email, "--json", ...extraArgs], env);
    expect(run.code).toBe(0);
    return JSON.parse(run.stdout) as Record<string, string>;
  };
  const victim = await onboard("victim", "owner@victim.example");
  const attacker = await onboard("attacker", "boss@attacker.example");
  expect(victim.setup_token).toMatch(/^clp_inv_/);
  const added = await runBinary(["workspace", "add", "victim", "staging", "--json", ...extraArgs], env);
  expect(added.code).toBe(0);
  const staging = (JSON.parse(added.stdout) as { workspace_id: string }).workspace_id;
  const server = await serve();
  const call = async (path: string, init: { body?: unknown; token?: string; method?: string } = {}) => {
    const response = await fetch(`${server.url}${path}`, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers: { "content-type": "application/json", ...(init.token ? { authorization: `Bearer ${init.token}` } : {}) },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as Body };
  };
  try {
    const invite = await call("/v1/members", {
      token: attacker.admin_token,
      body: { email: "owner@victim.example", role: "viewer" },
    });
    expect(invite.status).toBe(201);
    expect(
      (
        await call("/v1/auth/accept-invite", {
          body: { invite_token: invite.body.invite_token, password: "attacker-chosen-password" },
        })
      ).status,
    ).toBe(401);
    expect(
      (await call("/v1/auth/login", { body: { email: "owner@victim.example", password: "attacker-chosen-password" } }))
        .status,
    ).toBe(401);
    expect(
      (
        await call("/v1/me/password", {
          token: victim.admin_token,
          body: { current_password: "x", new_password: "attacker-chosen-password" },
        })
      ).status,
    ).toBe(403);

    expect(
      (
        await call("/v1/auth/accept-invite", {
          body: { invite_token: victim.setup_token, password: "victim-owner-password" },
        })
      ).status,
    ).toBe(200);
    const session = await call("/v1/auth/login", {
      body: { email: "owner@victim.example", password: "victim-owner-password", workspace_id: victim.workspace_id },
    });
    expect(session.status).toBe(200);
    const token = session.body.access_token as string;
    const enrol = await call("/v1/me/mfa/totp", { token, body: {} });
    const totp = new OTPAuth.TOTP({
      secret: OTPAuth.Secret.fromBase32(enrol.body.secret as string),
      digits: 6,
      period: 30,
    });
    expect((await call("/v1/me/mfa/totp/confirm", { token, body: { code: totp.generate() } })).status).toBe(200);

    // The account's other workspaces ask for the code too.
    const second = await call("/v1/auth/login", {
      body: { email: "owner@victim.example", password: "victim-owner-password", workspace_id: staging },
    });
    expect(second.body).toMatchObject({ mfa_required: true });
    const verified = await call("/v1/auth/mfa/verify", {
      body: { mfa_token: second.body.mfa_token, code: totp.generate({ timestamp: Date.now() + 30_000 }) },
    });
    expect(verified.status).toBe(200);
    expect(verified.body.workspace_id).toBe(staging);
  } finally {
    await server.stop();
  }
}

describe("account takeover against the compiled binary", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "causeloop-e2e-takeover-"));
  let db: TestDb | undefined;
  afterAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    await db?.dispose();
  });

  test("PGlite: the attacks fail and the owner's legitimate path works", async () => {
    await scenario({}, ["--data-dir", dataDir], () => startServe(["--data-dir", dataDir]));
  });

  test("PostgreSQL 16: the attacks fail and the owner's legitimate path works", async () => {
    db = await createTestDb("postgres");
    const env = {
      DATABASE_URL: db.databaseUrl as string,
      DATABASE_OWNER_URL: db.ownerUrl as string,
      CAUSELOOP_MASTER_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"),
    };
    await scenario(env, [], () => startServe([], env));
  });
});
