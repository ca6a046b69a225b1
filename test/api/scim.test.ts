// SCIM 2.0 end to end on both engines, written from RFC 7643/7644's examples and the two common clients'
// habits: Entra ID (capitalised ops, "False" strings, replace without a path, remove with a value list) and
// Okta (PUT-based updates, active=false). Deprovisioning revokes access within the same request.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { onboard } from "../../src/tenancy/service.ts";
import { operations } from "../../src/operator/operations.ts";
import { describeEngines } from "../helpers/db.ts";
import { ownerApp, postJson, type OwnerApp } from "../helpers/routes.ts";

const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";

// RFC 7643 §8.2 (trimmed): the full user representation.
const bjensen = {
  schemas: [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
  externalId: "701984",
  userName: "bjensen@example.com",
  name: { formatted: "Ms. Barbara J Jensen, III", familyName: "Jensen", givenName: "Barbara" },
  displayName: "Babs Jensen",
  title: "Tour Guide",
  emails: [
    { value: "bjensen@example.com", type: "work", primary: true },
    { value: "babs@jensen.org", type: "home" },
  ],
  active: true,
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
    employeeNumber: "701984",
    department: "Tour Operations",
  },
};

describeEngines("SCIM 2.0", (kind) => {
  let h: OwnerApp;
  let scimToken: string;
  let scimTokenId: string;

  const call = async (
    method: string,
    path: string,
    body?: unknown,
    token = scimToken,
    type = "application/scim+json",
  ) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers["content-type"] = type;
    const response = await h.app.fetch(
      new Request(`http://localhost${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
    const text = await response.text();
    return {
      status: response.status,
      type: response.headers.get("content-type") ?? "",
      location: response.headers.get("location"),
      json: (text ? JSON.parse(text) : null) as Record<string, unknown> & { Resources?: Record<string, unknown>[] },
    };
  };
  const v1 = (method: string, path: string, body: unknown, token: string) =>
    call(method, path, body, token, "application/json");
  const user = async (userName: string, extra: Record<string, unknown> = {}) => {
    const answer = await call("POST", "/scim/v2/Users", { schemas: [USER], userName, ...extra });
    if (answer.status !== 201) throw new Error(`setup: ${answer.status} ${JSON.stringify(answer.json)}`);
    return answer.json.id as string;
  };
  const memberOf = async (email: string) => {
    const list = (await v1("GET", "/v1/members?limit=200", undefined, h.token)).json as unknown as {
      data: { email: string; role: string; status: string }[];
    };
    return list.data.find((m) => m.email === email);
  };
  /** Redeems an invitation (or setup token) with a first password and signs in: the session's tokens. */
  const signIn = async (email: string, inviteToken: string | undefined) => {
    await postJson(h.app, "/v1/auth/accept-invite", { invite_token: inviteToken, password: "person-password-123" });
    return postJson(h.app, "/v1/auth/login", { email, password: "person-password-123" });
  };
  /** An existing account with a password, signed in, holding a PAT: what deprovisioning must cut off. */
  const signedInPerson = async (email: string) => {
    const invite = await postJson(h.app, "/v1/members", { email, role: "analyst" }, h.token);
    const session = await signIn(email, invite.invite_token);
    const pat = await postJson(h.app, "/v1/tokens", { name: "cli", scopes: ["issues:read"] }, session.access_token);
    return {
      access: session.access_token as string,
      refresh: session.refresh_token as string,
      pat: pat.token as string,
    };
  };

  beforeAll(async () => {
    h = await ownerApp(kind);
    const created = await postJson(h.app, "/v1/scim-tokens", { name: "Entra ID" }, h.token);
    scimToken = created.token as string;
    scimTokenId = created.id as string;
  });
  afterAll(() => h.dispose());

  describe("tokens and the door", () => {
    test("the SCIM token is shown once, hashed, and listed without its secret", async () => {
      expect(scimToken).toMatch(/^clp_scim_/);
      const list = await v1("GET", "/v1/scim-tokens", undefined, h.token);
      expect(list.status).toBe(200);
      expect(JSON.stringify(list.json)).not.toContain(scimToken);
      const [row] = await h.db.owner.query<{ token_hash: string }>("select token_hash from scim_tokens where id = $1", [
        scimTokenId,
      ]);
      expect(row?.token_hash).toMatch(/^[0-9a-f]{64}$/);
    });

    test("a SCIM token does not work on /v1, and a session or PAT does not work on /scim", async () => {
      expect((await v1("GET", "/v1/me", undefined, scimToken)).status).toBe(401);
      const refused = await call("GET", "/scim/v2/Users", undefined, h.token);
      expect(refused.status).toBe(401);
      expect(refused.type).toStartWith("application/scim+json");
      expect(refused.json).toMatchObject({ schemas: [ERROR], status: "401" });
      const pat = (await postJson(h.app, "/v1/tokens", { name: "p", scopes: ["members:read"] }, h.token))
        .token as string;
      expect((await call("GET", "/scim/v2/Users", undefined, pat)).status).toBe(401);
    });

    test("rotation and revocation of a SCIM token take effect at once", async () => {
      const spare = await postJson(h.app, "/v1/scim-tokens", { name: "spare" }, h.token);
      expect((await call("GET", "/scim/v2/Users", undefined, spare.token)).status).toBe(200);
      const rotated = await v1("POST", `/v1/scim-tokens/${spare.id}/rotate`, {}, h.token);
      expect(rotated.status).toBe(200);
      expect((await call("GET", "/scim/v2/Users", undefined, spare.token)).status).toBe(401);
      expect((await call("GET", "/scim/v2/Users", undefined, rotated.json.token as string)).status).toBe(200);
      expect((await v1("DELETE", `/v1/scim-tokens/${spare.id}`, undefined, h.token)).status).toBe(204);
      expect((await call("GET", "/scim/v2/Users", undefined, rotated.json.token as string)).status).toBe(401);
    });

    test("operators create, list and revoke SCIM tokens through the operator plane (causeloop scim token)", async () => {
      const ctx = {
        engine: h.db.owner,
        config: h.db.config,
        kek: async () => h.kek,
        signer: async () => h.signer,
        actor: "operator:test",
      };
      const workspace = h.tenant.workspace_id;
      const created = await operations["scim.token.create"].run(ctx, { workspace, name: "okta (operator)" });
      expect(created.role).toBe("admin");
      expect((await call("GET", "/scim/v2/Users", undefined, created.token)).status).toBe(200);
      const listed = await operations["scim.token.list"].run(ctx, { workspace });
      expect(listed.map((t) => t.id)).toContain(created.id);
      await operations["scim.token.revoke"].run(ctx, { workspace, id: created.id });
      expect((await call("GET", "/scim/v2/Users", undefined, created.token)).status).toBe(401);
    });

    test("discovery: ServiceProviderConfig, ResourceTypes, Schemas", async () => {
      const config = await call("GET", "/scim/v2/ServiceProviderConfig");
      expect(config.status).toBe(200);
      expect(config.type).toStartWith("application/scim+json");
      expect(config.json).toMatchObject({
        patch: { supported: true },
        filter: { supported: true },
        bulk: { supported: false },
      });
      const types = await call("GET", "/scim/v2/ResourceTypes");
      expect(types.json.Resources?.map((r) => r.name)).toEqual(["User", "Group"]);
      const schemas = await call("GET", "/scim/v2/Schemas");
      expect(schemas.json.Resources?.map((r) => r.id)).toContain(USER);
    });
  });

  describe("users (RFC 7644 §3.3, §3.4)", () => {
    test("POST creates the user (201, Location, meta) and a viewer membership", async () => {
      const created = await call("POST", "/scim/v2/Users", bjensen);
      expect(created.status).toBe(201);
      expect(created.json).toMatchObject({
        userName: "bjensen@example.com",
        externalId: "701984",
        active: true,
        title: "Tour Guide",
      });
      expect(created.json.id).toMatch(/^scu_/);
      expect(created.location).toBe(`http://localhost/scim/v2/Users/${created.json.id}`);
      expect(created.json.meta).toMatchObject({ resourceType: "User", location: created.location });
      expect(await memberOf("bjensen@example.com")).toMatchObject({ role: "viewer", status: "active" });
      const read = await call("GET", `/scim/v2/Users/${created.json.id}`);
      expect(read.json.name).toEqual(bjensen.name);
      // A new account belongs to this workspace's identity provider: no password, never a password sign-in.
      const [account] = await h.db.owner.query<{
        password_hash: string | null;
        idp_workspace_id: string;
        idp_connection_id: string;
      }>("select password_hash, idp_workspace_id, idp_connection_id from users where email = 'bjensen@example.com'");
      expect(account).toEqual({
        password_hash: null,
        idp_workspace_id: h.tenant.workspace_id,
        idp_connection_id: "scim",
      });
    });

    test("a userName already provisioned (any case) is 409 uniqueness in the SCIM error schema", async () => {
      const again = await call("POST", "/scim/v2/Users", { ...bjensen, userName: "BJensen@Example.com" });
      expect(again.status).toBe(409);
      expect(again.json).toEqual({
        schemas: [ERROR],
        status: "409",
        scimType: "uniqueness",
        detail: expect.any(String),
      });
    });

    test("a user without any email address is 400 invalidValue", async () => {
      const answer = await call("POST", "/scim/v2/Users", { schemas: [USER], userName: "no-email" });
      expect(answer.status).toBe(400);
      expect(answer.json).toMatchObject({ status: "400", scimType: "invalidValue" });
    });

    test("filters: eq (case-insensitive), co, sw, pr, and, or, not, value paths; a bad one is 400 invalidFilter", async () => {
      await user("jsmith@example.com", {
        name: { familyName: "Smith", givenName: "John" },
        emails: [{ value: "jsmith@example.com", type: "work" }],
      });
      const ids = async (filter: string) =>
        ((await call("GET", `/scim/v2/Users?filter=${encodeURIComponent(filter)}`)).json.Resources ?? []).map(
          (r) => r.userName,
        );
      expect(await ids('userName eq "BJENSEN@example.com"')).toEqual(["bjensen@example.com"]);
      expect(await ids('name.familyName co "mit"')).toEqual(["jsmith@example.com"]);
      expect(await ids('userName sw "j"')).toEqual(["jsmith@example.com"]);
      expect(await ids("title pr")).toEqual(["bjensen@example.com"]);
      expect(await ids('title pr and userName sw "b"')).toEqual(["bjensen@example.com"]);
      expect((await ids('userName sw "j" or userName sw "b"')).sort()).toEqual([
        "bjensen@example.com",
        "jsmith@example.com",
      ]);
      expect(await ids('emails[type eq "home" and value co "jensen.org"]')).toEqual(["bjensen@example.com"]);
      expect(await ids('externalId eq "701984"')).toEqual(["bjensen@example.com"]);
      expect(await ids('not (userName sw "b") and userName ew "example.com"')).toEqual(["jsmith@example.com"]);
      expect(await ids('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "jsmith@example.com"')).toEqual([
        "jsmith@example.com",
      ]);
      const bad = await call("GET", `/scim/v2/Users?filter=${encodeURIComponent("userName eq")}`);
      expect(bad.status).toBe(400);
      expect(bad.json).toMatchObject({ schemas: [ERROR], status: "400", scimType: "invalidFilter" });
    });

    test("startIndex/count paging: totalResults counts every match, the page is the slice asked for", async () => {
      const page = await call("GET", "/scim/v2/Users?startIndex=2&count=1");
      expect(page.json).toMatchObject({ totalResults: 2, startIndex: 2, itemsPerPage: 1 });
      expect(page.json.Resources?.[0]?.userName).toBe("jsmith@example.com");
      const none = await call("GET", "/scim/v2/Users?count=0");
      expect(none.json).toMatchObject({ totalResults: 2, itemsPerPage: 0, Resources: [] });
      const excluded = await call("GET", "/scim/v2/Users?count=1&attributes=userName");
      expect(Object.keys(excluded.json.Resources?.[0] ?? {}).sort()).toEqual(["id", "schemas", "userName"]);
    });

    test("PATCH: replace with a path, add without one, a filtered sub-attribute, remove (RFC 7644 §3.5.2)", async () => {
      const id = await user("patch.me@example.com", {
        emails: [{ value: "patch.me@example.com", type: "work", primary: true }],
      });
      const patched = await call("PATCH", `/scim/v2/Users/${id}`, {
        schemas: [PATCH],
        Operations: [
          { op: "replace", path: "displayName", value: "Patched" },
          { op: "add", value: { title: "Engineer", "name.givenName": "Pat" } },
          { op: "replace", path: 'emails[type eq "work"].value', value: "pat@example.com" },
          { op: "add", path: "phoneNumbers", value: [{ value: "555-555-5555", type: "work" }] },
          { op: "remove", path: "title" },
        ],
      });
      expect(patched.status).toBe(200);
      expect(patched.json).toMatchObject({ displayName: "Patched", name: { givenName: "Pat" } });
      expect(patched.json.title).toBeUndefined();
      expect(patched.json.emails).toEqual([{ value: "pat@example.com", type: "work", primary: true }]);
      expect(patched.json.phoneNumbers).toEqual([{ value: "555-555-5555", type: "work" }]);
      const wrong = await call("PATCH", `/scim/v2/Users/${id}`, {
        schemas: [PATCH],
        Operations: [{ op: "explode", path: "title" }],
      });
      expect(wrong.json).toMatchObject({ status: "400", scimType: "invalidSyntax" });
    });

    test("another workspace's SCIM token sees none of these users (404, empty lists)", async () => {
      const bravo = await onboard(
        h.db.owner,
        { slug: "bravo", name: "Bravo", adminEmail: "owner@bravo.example" },
        h.kek,
      );
      const session = await signIn("owner@bravo.example", bravo.setup_token);
      const token = (await postJson(h.app, "/v1/scim-tokens", { name: "okta" }, session.access_token)).token as string;
      const mine = (await call("GET", "/scim/v2/Users")).json.Resources?.[0]?.id as string;
      expect((await call("GET", `/scim/v2/Users/${mine}`, undefined, token)).status).toBe(404);
      expect((await call("DELETE", `/scim/v2/Users/${mine}`, undefined, token)).status).toBe(404);
      expect((await call("GET", "/scim/v2/Users", undefined, token)).json.totalResults).toBe(0);
      // The same person provisioned there is a separate record: one account, two workspaces.
      expect((await call("POST", "/scim/v2/Users", bjensen, token)).status).toBe(201);
      expect(await memberOf("bjensen@example.com")).toMatchObject({ status: "active" });
    });
  });

  describe("deprovisioning", () => {
    const expectCutOff = async (person: { access: string; refresh: string; pat: string }) => {
      expect((await v1("GET", "/v1/issues", undefined, person.pat)).status).toBe(401);
      expect((await v1("GET", "/v1/issues", undefined, person.access)).status).toBe(401);
      expect((await v1("POST", "/v1/auth/refresh", { refresh_token: person.refresh }, "")).status).toBe(401);
    };

    test('Entra: PATCH Replace active "False" revokes sessions, refresh tokens and PATs in the same request', async () => {
      const person = await signedInPerson("entra.person@acme.example");
      expect((await v1("GET", "/v1/issues", undefined, person.pat)).status).toBe(200);
      const id = await user("entra.person@acme.example");
      const answer = await call("PATCH", `/scim/v2/Users/${id}`, {
        schemas: [PATCH],
        Operations: [{ op: "Replace", path: "active", value: "False" }],
      });
      expect(answer.status).toBe(200);
      expect(answer.json.active).toBe(false);
      await expectCutOff(person);
      expect(await memberOf("entra.person@acme.example")).toBeUndefined();
    });

    test('Entra: Replace without a path ({active: "False"}) deprovisions too; reactivation restores membership', async () => {
      const id = await user("entra.two@example.com");
      const off = await call("PATCH", `/scim/v2/Users/${id}`, {
        schemas: [PATCH],
        Operations: [{ op: "Replace", value: { active: "False" } }],
      });
      expect(off.json.active).toBe(false);
      expect(await memberOf("entra.two@example.com")).toBeUndefined();
      const on = await call("PATCH", `/scim/v2/Users/${id}`, {
        schemas: [PATCH],
        Operations: [{ op: "Add", value: { active: "True" } }],
      });
      expect(on.json.active).toBe(true);
      expect(await memberOf("entra.two@example.com")).toMatchObject({ status: "active", role: "viewer" });
    });

    test("Okta: PUT with active=false deprovisions at once; DELETE does too", async () => {
      const person = await signedInPerson("okta.person@acme.example");
      const id = await user("okta.person@acme.example");
      const current = (await call("GET", `/scim/v2/Users/${id}`)).json;
      const put = await call(
        "PUT",
        `/scim/v2/Users/${id}`,
        { ...current, active: false },
        scimToken,
        "application/json",
      );
      expect(put.status).toBe(200);
      expect(put.json.active).toBe(false);
      await expectCutOff(person);
      // A PUT that leaves `active` out keeps the user deactivated.
      const silent = await call("PUT", `/scim/v2/Users/${id}`, {
        schemas: [USER],
        userName: "okta.person@acme.example",
      });
      expect(silent.json.active).toBe(false);
      expect(await memberOf("okta.person@acme.example")).toBeUndefined();
      const other = await signedInPerson("deleted.person@acme.example");
      const otherId = await user("deleted.person@acme.example");
      expect((await call("DELETE", `/scim/v2/Users/${otherId}`)).status).toBe(204);
      await expectCutOff(other);
      expect((await call("GET", `/scim/v2/Users/${otherId}`)).status).toBe(404);
    });

    test("an admin's SCIM token cannot deprovision an owner", async () => {
      const invite = await postJson(
        h.app,
        "/v1/members",
        { email: "admin.person@acme.example", role: "admin" },
        h.token,
      );
      const admin = await signIn("admin.person@acme.example", invite.invite_token);
      const adminScim = (await postJson(h.app, "/v1/scim-tokens", { name: "admin's" }, admin.access_token))
        .token as string;
      const ownerRecord = await call(
        "POST",
        "/scim/v2/Users",
        { schemas: [USER], userName: "owner@acme.example" },
        adminScim,
      );
      expect(ownerRecord.status).toBe(201);
      const off = await call(
        "PATCH",
        `/scim/v2/Users/${ownerRecord.json.id}`,
        { schemas: [PATCH], Operations: [{ op: "replace", path: "active", value: false }] },
        adminScim,
      );
      expect(off.status).toBe(403);
      expect(await memberOf("owner@acme.example")).toMatchObject({ role: "owner", status: "active" });
    });
  });

  describe("groups map to roles", () => {
    test("a group's members get its role; removal by members[value eq], by a value list, and deletion re-compute it", async () => {
      const a = await user("grouped.a@example.com");
      const b = await user("grouped.b@example.com");
      const group = await call("POST", "/scim/v2/Groups", {
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        displayName: "Causeloop Admins",
        members: [{ value: a }],
      });
      expect(group.status).toBe(201);
      const gid = group.json.id as string;
      expect(await memberOf("grouped.a@example.com")).toMatchObject({ role: "admin" });
      const added = await call("PATCH", `/scim/v2/Groups/${gid}`, {
        schemas: [PATCH],
        Operations: [{ op: "Add", path: "members", value: [{ value: b }] }],
      });
      expect((added.json.members as { value: string }[]).map((m) => m.value).sort()).toEqual([a, b].sort());
      expect(await memberOf("grouped.b@example.com")).toMatchObject({ role: "admin" });
      const removed = await call("PATCH", `/scim/v2/Groups/${gid}`, {
        schemas: [PATCH],
        Operations: [{ op: "remove", path: `members[value eq "${a}"]` }],
      });
      expect((removed.json.members as { value: string }[]).map((m) => m.value)).toEqual([b]);
      expect(await memberOf("grouped.a@example.com")).toMatchObject({ role: "viewer" });
      await call("PATCH", `/scim/v2/Groups/${gid}`, {
        schemas: [PATCH],
        Operations: [{ op: "Remove", path: "members", value: [{ value: b }] }],
      });
      expect(await memberOf("grouped.b@example.com")).toMatchObject({ role: "viewer" });
      const analysts = await call("POST", "/scim/v2/Groups", {
        displayName: "Everyone",
        members: [{ value: a }],
        "urn:causeloop:params:scim:schemas:extension:2.0:Group": { role: "analyst" },
      });
      expect(await memberOf("grouped.a@example.com")).toMatchObject({ role: "analyst" });
      const record = await call("GET", `/scim/v2/Users/${a}`);
      expect((record.json.groups as { display: string }[]).map((g) => g.display)).toEqual(["Everyone"]);
      const renamed = await call("PATCH", `/scim/v2/Groups/${gid}`, {
        schemas: [PATCH],
        Operations: [{ op: "Replace", value: { displayName: "Admins 2" } }],
      });
      expect(renamed.json.displayName).toBe("Admins 2");
      const slim = await call("GET", `/scim/v2/Groups/${gid}?excludedAttributes=members`);
      expect(slim.json.members).toBeUndefined();
      const found = await call("GET", `/scim/v2/Groups?filter=${encodeURIComponent('displayName eq "everyone"')}`);
      expect(found.json.totalResults).toBe(1);
      expect((await call("DELETE", `/scim/v2/Groups/${analysts.json.id}`)).status).toBe(204);
      expect(await memberOf("grouped.a@example.com")).toMatchObject({ role: "viewer" });
      const unknown = await call("POST", "/scim/v2/Groups", {
        displayName: "x",
        members: [{ value: "scu_00000000000000000000000000" }],
      });
      expect(unknown.json).toMatchObject({ status: "400", scimType: "invalidValue" });
    });
  });
});
