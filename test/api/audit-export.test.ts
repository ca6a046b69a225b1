// A customer verifies its own trail: GET /v1/audit/export with an admin token, the published JWKS, and the
// offline verifier, trusting nothing else from the server. Altering, deleting or reordering a line is
// caught; so is a trail re-signed with a key that is not the published one.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { withTenant } from "../../src/db/tenant.ts";
import { onboard, type OnboardResult } from "../../src/tenancy/service.ts";
import { createCheckpoint } from "../../src/audit/trail.ts";
import { parseAnchors, verifyAuditExport, type Jwk } from "../../src/audit/verify-export.ts";
import { describeEngines } from "../helpers/db.ts";
import { ownerApp, type OwnerApp } from "../helpers/routes.ts";
import { testSigner } from "../helpers/signer.ts";
import { outboundPolicy } from "../../src/net/policy.ts";
import { DeliveryWorker } from "../../src/delivery/worker.ts";
import { silentLogger } from "../../src/log.ts";

describeEngines("customer-verifiable audit export", (kind) => {
  let h: OwnerApp;
  let acme: OnboardResult;
  let globex: OnboardResult;
  const get = (path: string, token?: string) =>
    h.app.fetch(new Request(`http://localhost${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {}));
  const newIssue = (title: string) =>
    h.app.fetch(
      new Request("http://localhost/v1/issues", {
        method: "POST",
        headers: { authorization: `Bearer ${acme.admin_token}`, "content-type": "application/json" },
        body: JSON.stringify({ title }),
      }),
    );

  const anchored: string[] = [];
  let receiver: ReturnType<typeof Bun.serve>;
  const policy = outboundPolicy({ allowlist: "127.0.0.1" });

  beforeAll(async () => {
    // The customer's receiver: it keeps every audit.checkpoint webhook it is sent, as its own record.
    receiver = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: async (request) => {
        anchored.push(await request.text());
        return new Response("ok");
      },
    });
    h = await ownerApp(kind, { outbound: policy });
    acme = h.tenant;
    globex = await onboard(h.db.owner, { slug: "globex", name: "Globex", adminEmail: "ops@globex.com" }, h.kek);
    for (let i = 0; i < 3; i++) expect((await newIssue(`Incident ${i}`)).status).toBe(201);
    await withTenant(h.db.app, acme.workspace_id, (tx) => createCheckpoint(tx, acme.workspace_id, h.signer));
    // Rows after the checkpoint too: the export covers the unsigned tail as well.
    await newIssue("After the checkpoint");
  });
  afterAll(async () => {
    receiver.stop(true);
    await h.dispose();
  });

  test("the export verifies offline with only the published JWKS; every kind of tampering is caught", async () => {
    const response = await get("/v1/audit/export", acme.admin_token as string);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/x-ndjson");
    const text = await response.text();
    const jwks = (await (await get("/.well-known/jwks.json")).json()) as { keys: Jwk[] };

    const verdict = await verifyAuditExport(text, jwks);
    expect(verdict).toMatchObject({ ok: true, workspace_id: acme.workspace_id, checkpoints: 1 });
    const lines = text.trimEnd().split("\n");
    const rows = lines.filter((l) => JSON.parse(l).type === "row");
    expect(rows.length).toBeGreaterThanOrEqual(5);
    // The export is itself in the trail (the newest row it covers).
    expect(JSON.parse(rows.at(-1) as string).action).toBe("audit.exported");

    const rowAt = (i: number) => lines.indexOf(rows[i] as string);
    const altered = [...lines];
    altered[rowAt(2)] = (altered[rowAt(2)] as string).replace('"action":"', '"action":"x');
    expect(await verifyAuditExport(altered.join("\n"), jwks)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/altered/),
    });

    const deleted = lines.filter((_, i) => i !== rowAt(2));
    expect(await verifyAuditExport(deleted.join("\n"), jwks)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/missing/),
    });

    const reordered = [...lines];
    [reordered[rowAt(1)], reordered[rowAt(2)]] = [reordered[rowAt(2)] as string, reordered[rowAt(1)] as string];
    expect((await verifyAuditExport(reordered.join("\n"), jwks)).ok).toBe(false);

    // Someone else's key in the file does not help: the customer's JWKS decides.
    const other = await testSigner();
    const foreign = { keys: [other.publicJwk as Jwk] };
    expect(await verifyAuditExport(text, foreign)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/no public key|invalid signature/),
    });
  });

  test("a workspace exports only its own trail; without audit:read or a token there is no export", async () => {
    const text = await (await get("/v1/audit/export", globex.admin_token as string)).text();
    const ids = new Set(
      text
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l).workspace_id),
    );
    expect([...ids]).toEqual([globex.workspace_id]);
    expect((await get("/v1/audit/export")).status).toBe(401);
  });

  test("with checkpoints anchored at the customer's receiver, a tail deleted together with its checkpoint is caught", async () => {
    const hook = await h.app.fetch(
      new Request("http://localhost/v1/webhooks", {
        method: "POST",
        headers: { authorization: `Bearer ${acme.admin_token}`, "content-type": "application/json" },
        body: JSON.stringify({ url: `http://127.0.0.1:${receiver.port}/anchors`, events: ["audit.checkpoint"] }),
      }),
    );
    expect(hook.status).toBe(201);
    await newIssue("Anchored 1");
    await newIssue("Anchored 2");
    const checkpoint = await withTenant(h.db.app, acme.workspace_id, (tx) =>
      createCheckpoint(tx, acme.workspace_id, h.signer),
    );
    const worker = new DeliveryWorker(h.db.app, h.kek, policy, silentLogger, {
      retrySchedule: [0],
      breakerThreshold: 10,
      breakerSeconds: 60,
    });
    await worker.drain();
    expect(anchored).toHaveLength(1);
    const anchors = parseAnchors(anchored.join("\n"));
    expect(anchors[0]).toMatchObject({ workspace_id: acme.workspace_id, seq: checkpoint?.seq, hash: checkpoint?.hash });
    const jwks = (await (await get("/.well-known/jwks.json")).json()) as { keys: Jwk[] };

    const intact = await (await get("/v1/audit/export", acme.admin_token as string)).text();
    expect(await verifyAuditExport(intact, jwks, anchors)).toMatchObject({ ok: true, anchors_checked: 1 });

    // Whoever owns the database removes the newest rows and the checkpoint that covered them.
    const cut = (checkpoint?.seq as number) - 1;
    await h.db.owner.exec(
      "alter table audit_log disable trigger user; alter table audit_checkpoints disable trigger user",
    );
    await h.db.owner.query("delete from audit_log where workspace_id = $1 and seq > $2", [acme.workspace_id, cut]);
    await h.db.owner.query("delete from audit_checkpoints where workspace_id = $1 and seq > $2", [
      acme.workspace_id,
      cut,
    ]);
    await h.db.owner.exec(
      "alter table audit_log enable trigger user; alter table audit_checkpoints enable trigger user",
    );
    const truncated = await (await get("/v1/audit/export", acme.admin_token as string)).text();
    // The trail alone still looks whole (the export's own read appended a row where the tail was) ...
    expect((await verifyAuditExport(truncated, jwks)).ok).toBe(true);
    // ... the anchor the customer holds says otherwise.
    expect(await verifyAuditExport(truncated, jwks, anchors)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/differs from the checkpoint anchored outside|anchored outside the server/),
    });
    // An anchor whose signature does not hold is refused, not trusted.
    const forged = [{ ...(anchors[0] as (typeof anchors)[number]), hash: "0".repeat(64) }];
    expect(await verifyAuditExport(intact, jwks, forged)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/does not carry a valid signature/),
    });
  });
});
