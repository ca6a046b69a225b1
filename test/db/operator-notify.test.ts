// The operator's alerts reach the operator's own destination: each new one once, signed per Standard Webhooks,
// sent again after a failure until it goes through, by the runtime role that cannot otherwise read them.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Webhook } from "standardwebhooks";
import { silentLogger } from "../../src/log.ts";
import { outboundPolicy } from "../../src/net/policy.ts";
import { raiseOperatorAlert } from "../../src/security/alerts.ts";
import { notifyOperatorAlerts } from "../../src/security/operator-notify.ts";
import { newWebhookSecret } from "../../src/delivery/signing.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";

describeEngines("operator alert destination", (kind) => {
  let db: TestDb;
  let receiver: ReturnType<typeof Bun.serve>;
  const got: { body: string; headers: Record<string, string> }[] = [];
  let failNext = 1;
  const secret = newWebhookSecret();
  const policy = outboundPolicy({ allowlist: "127.0.0.1" });

  beforeAll(async () => {
    db = await createTestDb(kind);
    receiver = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: async (request) => {
        got.push({ body: await request.text(), headers: Object.fromEntries(request.headers.entries()) });
        if (failNext > 0) {
          failNext--;
          return new Response("down", { status: 503 });
        }
        return new Response(null, { status: 204 });
      },
    });
  });
  afterAll(async () => {
    receiver.stop(true);
    await db.dispose();
  });

  test("a new operator alert is sent once, signed, after a failed first try; the runtime role cannot read the table", async () => {
    const target = { url: `http://127.0.0.1:${receiver.port}/ops`, secret };
    expect(await notifyOperatorAlerts(db.app, target, policy, silentLogger)).toBe(0); // nothing to send
    const id = await raiseOperatorAlert(db.app, {
      rule: "isolation_attestation_failed",
      summary: "tenant isolation attestation failed: issues",
      details: { lint: ["table issues"] },
      dedupKey: "isolation_attestation_failed",
    });
    expect(await notifyOperatorAlerts(db.app, target, policy, silentLogger)).toBe(0); // 503
    expect(await notifyOperatorAlerts(db.app, target, policy, silentLogger)).toBe(1);
    expect(await notifyOperatorAlerts(db.app, target, policy, silentLogger)).toBe(0); // already sent
    // Counted again while open: no second message.
    await raiseOperatorAlert(db.app, {
      rule: "isolation_attestation_failed",
      summary: "tenant isolation attestation failed: issues",
      details: {},
      dedupKey: "isolation_attestation_failed",
    });
    expect(await notifyOperatorAlerts(db.app, target, policy, silentLogger)).toBe(0);
    expect(got).toHaveLength(2);
    expect(got[1]?.headers["webhook-id"]).toBe(id as string);
    const verified = new Webhook(secret).verify(got[1]?.body as string, got[1]?.headers as Record<string, string>);
    expect(verified).toMatchObject({ type: "operator.alert", data: { id, rule: "isolation_attestation_failed" } });
    if (kind === "postgres")
      await expect(db.app.query("select * from operator_alerts")).rejects.toThrow(/permission denied/);
  });
});
