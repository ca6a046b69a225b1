// SAML 2.0 single sign-on against a real identity provider (samlify, with its own key and certificate, fed
// the service provider's metadata), SP-initiated and IdP-initiated, posted to the ACS as a browser does.
// Refused: an unsigned assertion, signature wrapping (an unsigned assertion injected before the signed one),
// a tampered signed assertion, a wrong audience, a wrong recipient, an expired assertion, an unknown
// InResponseTo, a replayed assertion, and a response signed by another key.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { outboundPolicy } from "../../src/net/policy.ts";
import { describeEngines } from "../helpers/db.ts";
import { callJson, ownerApp, type OwnerApp } from "../helpers/routes.ts";
import {
  authnRequestId,
  decode,
  encode,
  IDP_ENTITY_ID,
  IDP_SSO_URL,
  startSamlIdp,
  type TestSamlIdp,
} from "../helpers/saml-idp.ts";

const PUBLIC_URL = "https://causeloop.test";
const REFUSED = "the identity is not valid for this workspace";

describeEngines("SAML single sign-on", (kind) => {
  let h: OwnerApp;
  let idp: TestSamlIdp;
  let connectionId: string;
  let metadata: string;
  let metadataServer: ReturnType<typeof Bun.serve>;

  const acs = async (samlResponse: string, id = connectionId) => {
    const response = await h.app.fetch(
      new Request(`http://localhost/v1/auth/sso/${id}/acs`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ SAMLResponse: samlResponse, RelayState: "" }).toString(),
      }),
    );
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    idp = startSamlIdp();
    metadataServer = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response(idp.metadata) });
    h = await ownerApp(kind, { publicUrl: PUBLIC_URL, outbound: outboundPolicy({ allowlist: "127.0.0.1" }) });
    const response = await h.app.fetch(
      new Request("http://localhost/v1/sso-connections", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${h.token}` },
        body: JSON.stringify({
          provider: "saml",
          display_name: "Corp SAML",
          issuer: IDP_ENTITY_ID,
          sso_url: IDP_SSO_URL,
          idp_certificate: idp.cert,
          jit_provisioning: true,
          role_mapping: [{ group: "sre", role: "analyst" }],
        }),
      }),
    );
    expect(response.status).toBe(201);
    connectionId = ((await response.json()) as { id: string }).id;
    const served = await h.app.fetch(new Request(`http://localhost/v1/auth/sso/${connectionId}/metadata`));
    expect(served.status).toBe(200);
    expect(served.headers.get("content-type")).toContain("application/samlmetadata+xml");
    metadata = await served.text();
  });
  afterAll(async () => {
    await h.dispose();
    metadataServer.stop(true);
  });

  test("the SP metadata names the entity id, the ACS, and asks for signed assertions", () => {
    expect(metadata).toContain(`entityID="${PUBLIC_URL}/v1/auth/sso/${connectionId}/metadata"`);
    expect(metadata).toContain(`Location="${PUBLIC_URL}/v1/auth/sso/${connectionId}/acs"`);
    expect(metadata).toContain('WantAssertionsSigned="true"');
  });

  test("SP-initiated: start redirects with an AuthnRequest; its signed answer signs the person in, once", async () => {
    const start = await h.app.fetch(new Request(`http://localhost/v1/auth/sso/${connectionId}/start`));
    expect(start.status).toBe(302);
    const location = start.headers.get("location") as string;
    expect(location.startsWith(`${IDP_SSO_URL}?SAMLRequest=`)).toBe(true);
    const requestId = authnRequestId(location);
    const answer = await idp.respond(metadata, {
      nameId: "u-1001",
      email: "dana@corp.example",
      groups: ["sre"],
      inResponseTo: requestId,
    });
    const session = await acs(answer);
    expect(session).toMatchObject({ status: 200, body: { token_type: "Bearer", role: "analyst" } });
    // The same request id cannot be answered twice.
    const second = await idp.respond(metadata, { nameId: "u-1001", inResponseTo: requestId });
    expect(await acs(second)).toMatchObject({ status: 401, body: { detail: REFUSED } });
  });

  test("a connection configured from the IdP's metadata URL (fetched through the guard) signs people in", async () => {
    const created = await callJson(
      h.app,
      "POST",
      "/v1/sso-connections",
      {
        provider: "saml",
        display_name: "From metadata",
        issuer: IDP_ENTITY_ID,
        metadata_url: `http://127.0.0.1:${metadataServer.port}/metadata`,
        jit_provisioning: true,
      },
      h.token,
    );
    expect(created.status).toBe(201);
    expect(created.body.sso_url).toBe(IDP_SSO_URL);
    const id = created.body.id as string;
    const sp = await (await h.app.fetch(new Request(`http://localhost/v1/auth/sso/${id}/metadata`))).text();
    expect(await acs(await idp.respond(sp, { nameId: "m-1", email: "gina@corp.example" }), id)).toMatchObject({
      status: 200,
    });
    const tested = await callJson(h.app, "POST", `/v1/sso-connections/${id}/test`, undefined, h.token);
    expect(tested.body).toMatchObject({ ok: true, checks: [{ name: "metadata", ok: true }, { name: "certificate" }] });
    const wrongIssuer = await callJson(
      h.app,
      "POST",
      "/v1/sso-connections",
      {
        provider: "saml",
        display_name: "x",
        issuer: "https://other",
        metadata_url: `http://127.0.0.1:${metadataServer.port}/m`,
      },
      h.token,
    );
    expect(wrongIssuer.status).toBe(422);
  });

  test("IdP-initiated: a signed response without InResponseTo signs a linked person in", async () => {
    const first = await acs(await idp.respond(metadata, { nameId: "u-1001", groups: ["sre"] }));
    expect(first).toMatchObject({ status: 200, body: { role: "analyst" } });
    const [row] = await h.db.owner.query<{ n: number }>(
      "select count(*)::int as n from sso_identities where workspace_id = $1 and connection_id = $2 and subject = 'u-1001'",
      [h.tenant.workspace_id, connectionId],
    );
    expect(row?.n).toBe(1);
  });

  test("a provisioned account follows the IdP's groups at every sign-in", async () => {
    const roleOf = async (groups: string[]) =>
      (await acs(await idp.respond(metadata, { nameId: "u-3003", email: "frank@corp.example", groups }))).body.role;
    expect(await roleOf(["sre"])).toBe("analyst");
    expect(await roleOf([])).toBe("viewer");
    expect(await roleOf(["sre", "unrelated"])).toBe("analyst");
  });

  test("a member links their own account with an SP-initiated sign-in started from a password session", async () => {
    const started = await callJson(h.app, "POST", `/v1/sso-connections/${connectionId}/link`, undefined, h.token);
    expect(started.status).toBe(200);
    const inResponseTo = authnRequestId(started.body.authorization_url as string);
    const linked = await acs(await idp.respond(metadata, { nameId: "owner-at-idp", inResponseTo }));
    expect(linked).toMatchObject({ status: 200, body: { role: "owner", workspace_id: h.tenant.workspace_id } });
    // IdP-initiated from now on: the same owner.
    expect(await acs(await idp.respond(metadata, { nameId: "owner-at-idp" }))).toMatchObject({
      status: 200,
      body: { role: "owner" },
    });
  });

  test("a replayed assertion is refused", async () => {
    const answer = await idp.respond(metadata, { nameId: "u-1001" });
    expect((await acs(answer)).status).toBe(200);
    expect(await acs(answer)).toMatchObject({ status: 401, body: { detail: "this assertion was already used" } });
  });

  test("an unsigned assertion is refused", async () => {
    const signed = decode(await idp.respond(metadata, { nameId: "u-1001" }));
    const unsigned = signed.replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/, "");
    expect(unsigned).not.toContain("Signature");
    expect(await acs(encode(unsigned))).toMatchObject({ status: 401, body: { detail: REFUSED } });
  });

  test("signature wrapping: an unsigned assertion injected before the signed one is refused", async () => {
    const signed = decode(await idp.respond(metadata, { nameId: "u-1001" }));
    const assertion = /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(signed)?.[0] as string;
    const evil = assertion
      .replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/, "")
      .replace(/ID="[^"]+"/, 'ID="_evil"')
      .replace(/<saml:NameID([^>]*)>[^<]*</, "<saml:NameID$1>admin-of-everything<");
    const wrapped = signed.replace("<saml:Assertion", `${evil}<saml:Assertion`);
    expect(await acs(encode(wrapped))).toMatchObject({ status: 401, body: { detail: REFUSED } });
    // And the signed assertion moved inside the injected one.
    const nested = signed.replace(assertion, evil.replace("</saml:Assertion>", `${assertion}</saml:Assertion>`));
    expect(await acs(encode(nested))).toMatchObject({ status: 401, body: { detail: REFUSED } });
  });

  test("a signed assertion whose content was changed is refused", async () => {
    const signed = decode(await idp.respond(metadata, { nameId: "u-1001" }));
    expect(await acs(encode(signed.replace(">u-1001<", ">u-1002<")))).toMatchObject({ status: 401 });
  });

  test("a wrong audience, issuer or recipient, an expired or not yet valid assertion, an unknown request are refused", async () => {
    const cases = [
      { nameId: "u-1001", audience: "https://another-sp.example/metadata" },
      { nameId: "u-1001", issuer: "https://another-idp.example/saml" },
      { nameId: "u-1001", recipient: "https://another-sp.example/acs" },
      { nameId: "u-1001", notBefore: -1800, notOnOrAfter: -600 },
      { nameId: "u-1001", notBefore: 600, notOnOrAfter: 1200 },
      { nameId: "u-1001", inResponseTo: "_never_requested" },
    ];
    for (const assertion of cases)
      expect({ assertion, answer: await acs(await idp.respond(metadata, assertion)) }).toMatchObject({
        assertion,
        answer: { status: 401, body: { detail: REFUSED } },
      });
  });

  test("a response signed by another key is refused; an unknown person without JIT is refused", async () => {
    // An identity provider with its own key, claiming the configured IdP's entity id.
    const impostor = startSamlIdp();
    expect(await acs(await impostor.respond(metadata, { nameId: "u-1001" }))).toMatchObject({
      status: 401,
      body: { detail: REFUSED },
    });
    await h.app.fetch(
      new Request(`http://localhost/v1/sso-connections/${connectionId}`, {
        method: "PATCH",
        headers: { "content-type": "application/json", authorization: `Bearer ${h.token}` },
        body: JSON.stringify({ jit_provisioning: false }),
      }),
    );
    expect(await acs(await idp.respond(metadata, { nameId: "u-2002", email: "erin@corp.example" }))).toMatchObject({
      status: 401,
      body: { detail: REFUSED },
    });
  });
});
