// One list shape everywhere: every list route (found from the contract: its success is a *Page) answers
// `{ data, next_cursor }`, and walking it one item at a time with next_cursor gives exactly the full listing:
// no item twice, none left out, the last page's cursor null. A cursor the server did not issue is a 422.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { describeEngines } from "../helpers/db.ts";
import { loadContract, type Contract } from "../helpers/contract.ts";
import { createResources, ownerApp, type IdBook, type OwnerApp } from "../helpers/routes.ts";

describeEngines("lists", (kind) => {
  let h: OwnerApp;
  let contract: Contract;
  /** The first round's resources: its webhook receives the later rounds' issue events too. */
  const first = new Map() as IdBook;
  const get = async (path: string) => {
    const response = await h.app.fetch(
      new Request(`http://localhost${path}`, { headers: { authorization: `Bearer ${h.token}` } }),
    );
    return {
      status: response.status,
      body: (await response.json()) as { data: { id?: string; seq?: number }[]; next_cursor: string | null },
    };
  };

  beforeAll(async () => {
    h = await ownerApp(kind);
    contract = await loadContract(h.app);
    for (const tag of ["one", "two", "three"])
      await createResources(
        h.app,
        h.token,
        tag === "one" ? first : (new Map() as IdBook),
        h.tenant.workspace_id,
        tag,
        h.db,
      );
  });
  afterAll(() => h.dispose());

  test("every list route pages with limit and next_cursor through exactly the full listing", async () => {
    const lists = Object.entries(contract.document.paths)
      .filter(([, item]) => {
        const ok = (
          item.get as { responses?: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }> }
        )?.responses?.["200"]?.content?.["application/json"]?.schema?.$ref;
        return ok?.endsWith("Page");
      })
      .map(([path]) => path);
    expect(lists.sort()).toEqual([
      "/v1/access-reviews",
      "/v1/audit",
      "/v1/audit-streams",
      "/v1/clusters",
      "/v1/connectors",
      "/v1/governance/compliance-log",
      "/v1/governance/exports",
      "/v1/governance/rtbf/requests",
      "/v1/issues",
      "/v1/issues/{id}/activity",
      "/v1/members",
      "/v1/patterns",
      "/v1/predictions",
      "/v1/recommendations",
      "/v1/relay-tokens",
      "/v1/relays",
      "/v1/scim-tokens",
      "/v1/security-alerts",
      "/v1/service-accounts",
      "/v1/sso-connections",
      "/v1/tokens",
      "/v1/webhooks",
      "/v1/webhooks/{id}/deliveries",
    ]);
    for (const template of lists) {
      const path = template.replace("{id}", first.get(template.startsWith("/v1/issues/") ? "iss" : "whk") as string);
      // The audit trail grows as it is read (each read is audited): filter it to something that does not.
      const base = path === "/v1/audit" ? `${path}?action=issue.created&` : `${path}?`;
      const full = await get(`${base}limit=200`);
      expect({ path, status: full.status }).toEqual({ path, status: 200 });
      const key = (row: { id?: string; seq?: number }) => String(row.id ?? row.seq);
      expect({ path, enough: full.body.data.length >= 2 }).toEqual({ path, enough: true });
      const walked: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 50; page++) {
        const answer = await get(`${base}limit=1${cursor ? `&cursor=${cursor}` : ""}`);
        expect(answer.body.data.length).toBeLessThanOrEqual(1);
        walked.push(...answer.body.data.map(key));
        cursor = answer.body.next_cursor;
        if (!cursor) break;
      }
      expect({ path, walked }).toEqual({ path, walked: full.body.data.map(key) });
      const forged = Buffer.from("not a cursor at all").toString("base64url");
      expect({ path, status: (await get(`${base}cursor=${forged}`)).status }).toEqual({ path, status: 422 });
    }
  });
});
