// The OpenAPI contract is complete: every route of the app is in it, every operation documents a success and
// the problems it can answer, and the oracle the harness uses really rejects an answer that is not documented.
// (The harness checks every answer it provokes against the contract: test/api/route-security.test.ts,
// malformed-input.test.ts, and audit-routes.test.ts for every mutation's success.)
import { afterAll, beforeAll, expect, test } from "bun:test";
import { describeEngines } from "../helpers/db.ts";
import { loadContract, type Contract } from "../helpers/contract.ts";
import { ownerApp, routesOf, type OwnerApp } from "../helpers/routes.ts";

describeEngines("OpenAPI contract", (kind) => {
  let h: OwnerApp;
  let contract: Contract;
  beforeAll(async () => {
    h = await ownerApp(kind, { metrics: true });
    contract = await loadContract(h.app);
  });
  afterAll(() => h.dispose());

  test("every route of the app is an operation of the contract, and nothing else is", () => {
    const routes = routesOf(h.app)
      .map((r) => `${r.method} ${r.path.replace(/:([^/]+)/g, "{$1}")}`)
      .filter((r) => r !== "GET /openapi.json" && r !== "GET /docs" && !r.startsWith("GET /docs/"));
    const operations = Object.entries(contract.document.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations.sort()).toEqual(routes.sort());
  });

  test("every operation: a summary, a documented success with its body, problem answers, JSON-only bodies", () => {
    const wrong: string[] = [];
    const probes = new Set(["/healthz", "/readyz"]);
    for (const [path, item] of Object.entries(contract.document.paths)) {
      for (const [method, raw] of Object.entries(item)) {
        const operation = raw as {
          summary?: string;
          responses?: Record<string, { $ref?: string; content?: Record<string, unknown> }>;
          requestBody?: { content?: Record<string, unknown> };
        };
        const label = `${method.toUpperCase()} ${path}`;
        const statuses = Object.keys(operation.responses ?? {});
        // A redirect is the success of a sign-in start (to the IdP).
        const success = statuses.filter((s) => s.startsWith("2") || s === "302");
        if (!operation.summary) wrong.push(`${label}: no summary`);
        if (!success.length) wrong.push(`${label}: no success answer`);
        for (const status of success) {
          const answer = operation.responses?.[status];
          if (status !== "204" && status !== "202" && status !== "302" && !answer?.content)
            wrong.push(`${label}: ${status} without a body`);
        }
        if (!statuses.some((s) => s.startsWith("4")) && !probes.has(path)) wrong.push(`${label}: no 4xx`);
        if (!statuses.includes("500")) wrong.push(`${label}: no 500`);
        for (const status of statuses.filter((s) => Number(s) >= 400)) {
          const ref = operation.responses?.[status]?.$ref ?? "";
          if (!ref.startsWith("#/components/responses/")) wrong.push(`${label}: ${status} is not a shared problem`);
        }
        const types = Object.keys(operation.requestBody?.content ?? {});
        // JSON only, but SCIM clients send application/scim+json (RFC 7644 §3.1) and the SAML ACS takes the IdP's
        // HTML form post (HTTP-POST binding) as well.
        const accepted = path.startsWith("/scim/")
          ? ["application/json", "application/scim+json"]
          : label === "POST /v1/auth/sso/{id}/acs"
            ? ["application/json", "application/x-www-form-urlencoded"]
            : ["application/json"];
        if (types.some((t) => !accepted.includes(t))) wrong.push(`${label}: accepts ${types.join(", ")}`);
        if (!path.includes("{") && statuses.includes("404") && !["post"].includes(method))
          wrong.push(`${label}: 404 without an id in the path`);
      }
    }
    expect(wrong).toEqual([]);
    // Every problem answer is application/problem+json with the shared Problem schema; on /scim, the SCIM
    // error schema as application/scim+json.
    for (const [name, answer] of Object.entries(contract.document.components.responses)) {
      if (name.startsWith("Scim"))
        expect(answer.content?.["application/scim+json"]?.schema).toEqual({ $ref: "#/components/schemas/ScimError" });
      else
        expect(answer.content?.["application/problem+json"]?.schema).toEqual({ $ref: "#/components/schemas/Problem" });
    }
    for (const [path, item] of Object.entries(contract.document.paths).filter(([p]) => p.startsWith("/scim/")))
      for (const operation of Object.values(item) as { responses?: Record<string, { $ref?: string }> }[])
        for (const [status, answer] of Object.entries(operation.responses ?? {}))
          if (Number(status) >= 400) expect(`${path} ${status} ${answer.$ref}`).toContain("/responses/Scim");
  });

  test("the oracle rejects what the contract does not say: an unknown status, a wrong body, a wrong type", async () => {
    const issue = await (
      await h.app.fetch(
        new Request("http://localhost/v1/issues", {
          method: "POST",
          headers: { authorization: `Bearer ${h.token}`, "content-type": "application/json" },
          body: JSON.stringify({ title: "Contract" }),
        }),
      )
    ).text();
    expect(contract.check("POST", "/v1/issues", 201, "application/json", issue)).toEqual([]);
    expect(contract.check("POST", "/v1/issues", 200, "application/json", issue)[0]).toContain("status not documented");
    const broken = JSON.stringify({ ...JSON.parse(issue), status: "exploded" });
    expect(contract.check("POST", "/v1/issues", 201, "application/json", broken)[0]).toContain("does not match");
    const missing = JSON.stringify({ ...JSON.parse(issue), title: undefined });
    expect(contract.check("POST", "/v1/issues", 201, "application/json", missing)[0]).toContain("does not match");
    expect(contract.check("POST", "/v1/issues", 201, "text/plain", issue)[0]).toContain("content type");
    expect(contract.check("GET", "/v1/nothing", 200, "application/json", "{}")[0]).toContain("not in the contract");
    const problem = JSON.stringify({ type: "x", title: "t", status: 404, detail: "d", code: "not_found" });
    expect(contract.check("GET", "/v1/issues/:id", 404, "application/problem+json", problem)[0]).toContain(
      "does not match",
    ); // no request_id
  });

  test("/openapi.json says which credential every route needs", () => {
    const doc = contract.document as unknown as {
      security: unknown[];
      components: { securitySchemes: Record<string, { scheme: string }> };
    };
    expect(doc.security).toEqual([{ bearer: [] }]);
    expect(doc.components.securitySchemes.bearer?.scheme).toBe("bearer");
  });
});
