// SSRF through SSO connections: a workspace admin points an IdP at the server's own network. Refused when the
// connection is stored (loopback, the cloud metadata address, private addresses, loopback names, plain http),
// and again when the server would fetch (discovery at sign-in and in "test connection"), after DNS resolution:
// the loopback IdP never receives a request. The operator allowlist opens loopback and private ranges, never
// the metadata address.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { guardedFetch } from "../../src/net/fetch.ts";
import { outboundPolicy } from "../../src/net/policy.ts";
import { describeEngines } from "../helpers/db.ts";
import { callJson, ownerApp, type OwnerApp } from "../helpers/routes.ts";

describeEngines("SSO connections and the outbound guard", (kind) => {
  let h: OwnerApp;
  let idp: ReturnType<typeof Bun.serve>;
  let hits = 0;

  const call = (method: string, path: string, body?: unknown, token = h.token) =>
    callJson(h.app, method, path, body, token);
  const oidc = (issuer: string) => ({ provider: "oidc", display_name: "IdP", issuer, client_id: "causeloop" });

  beforeAll(async () => {
    idp = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: () => {
        hits++;
        return Response.json({ issuer: "x" });
      },
    });
    h = await ownerApp(kind, { publicUrl: "https://causeloop.test" });
  });
  afterAll(async () => {
    await h.dispose();
    idp.stop(true);
  });

  test("refused at creation: loopback, metadata, private and link-local addresses, loopback names, plain http", async () => {
    for (const issuer of [
      "https://127.0.0.1/",
      "https://[::1]/",
      "https://169.254.169.254/latest/meta-data/",
      "https://[::ffff:169.254.169.254]/",
      "https://10.1.2.3/",
      "https://192.168.0.10/",
      "https://169.254.10.10/",
      "https://localhost/",
      "https://idp.localhost/",
      `http://idp.example.com/`,
    ]) {
      const answer = await call("POST", "/v1/sso-connections", oidc(issuer));
      expect({ issuer, status: answer.status, code: answer.body.code }).toEqual({
        issuer,
        status: 422,
        code: "validation_failed",
      });
    }
    for (const metadata_url of [
      "https://169.254.169.254/metadata",
      "https://127.0.0.1/metadata",
      "https://10.0.0.7/m",
    ]) {
      const saml = await call("POST", "/v1/sso-connections", {
        provider: "saml",
        display_name: "IdP",
        issuer: "https://idp.example.com",
        metadata_url,
      });
      expect({ metadata_url, status: saml.status }).toEqual({ metadata_url, status: 422 });
    }
    const jwt = await call("POST", "/v1/sso-connections", {
      provider: "jwt",
      display_name: "Keys",
      issuer: "https://idp.example.com",
      jwks_url: "https://169.254.169.254/keys",
    });
    expect(jwt.status).toBe(422);
    const created = await call("POST", "/v1/sso-connections", oidc("https://idp.example.com"));
    expect(created.status).toBe(201);
    expect((await call("PATCH", `/v1/sso-connections/${created.body.id}`, { issuer: "https://10.0.0.1" })).status).toBe(
      422,
    );
  });

  test("refused at fetch time, after DNS resolution: sign-in and the connection test never reach the address", async () => {
    // A connection stored before the rule (or under an allowlist since narrowed) naming a loopback host.
    const [row] = await h.db.owner.query<{ id: string }>(
      `insert into sso_connections (workspace_id, id, provider, display_name, issuer, client_id)
       values ($1, new_id('sso'), 'oidc', 'Old IdP', $2, 'causeloop') returning id`,
      [h.tenant.workspace_id, `https://localhost:${idp.port}`],
    );
    const start = await h.app.fetch(new Request(`http://localhost/v1/auth/sso/${row?.id}/start`));
    expect(start.status).toBe(401);
    expect(((await start.json()) as { detail: string }).detail).toContain("loopback");
    const tested = await call("POST", `/v1/sso-connections/${row?.id}/test`);
    expect(tested.status).toBe(200);
    expect(tested.body.ok).toBe(false);
    expect(JSON.stringify(tested.body.checks)).toContain("loopback");
    expect(hits).toBe(0);
  });

  test("the allowlist opens loopback and private ranges, never the metadata address", async () => {
    const policy = outboundPolicy({ allowlist: "127.0.0.1,169.254.0.0/16,localhost" });
    const answer = await guardedFetch(`http://127.0.0.1:${idp.port}/.well-known/openid-configuration`, {}, policy);
    expect(answer.status).toBe(200);
    expect(hits).toBe(1);
    expect(policy.allowsAddress("169.254.10.10")).toBe(true);
    for (const address of ["169.254.169.254", "::ffff:169.254.169.254", "fd00:ec2::254"])
      expect({ address, allowed: policy.allowsAddress(address) }).toEqual({ address, allowed: false });
    await expect(guardedFetch("https://169.254.169.254/latest/meta-data/", {}, policy)).rejects.toThrow(/link-local/);
  });
});
