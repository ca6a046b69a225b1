// The adapters alone: each vendor's documented sample payload becomes the normalized event a user would expect,
// an unknown shape is a 422 (never a crash), and the title fingerprint masks what varies between repeats.
import { describe, expect, test } from "bun:test";
import { ADAPTERS, type Source } from "../../src/ingestion/adapters/index.ts";
import { causeloopSignature, verifySignature } from "../../src/ingestion/signatures.ts";
import { signedHeaders } from "../../src/delivery/signing.ts";
import { AppError } from "../../src/errors.ts";

const sample = async (name: string) => (await Bun.file(`test/fixtures/vendors/${name}.json`).json()) as unknown;
const adapt = async (source: Source, fixture: string = source, headers: Record<string, string> = {}) =>
  ADAPTERS[source]({ body: await sample(fixture), headers: new Headers(headers) });

/** Each documented sample, and what a user expects to see of it (the headers the vendor sends with it). */
const EXPECTED: [Source, string, Record<string, string>, Record<string, unknown>][] = [
  [
    "sentry",
    "sentry",
    {},
    {
      event_id: "bb78c1407cea4519aa397afc059c793d",
      fingerprint: "issue:1117540176",
      title: "This is an example Python exception",
      environment: "prod",
      severity: "high",
      status: "firing",
      occurred_at: "2019-08-19T20:58:37.391Z",
      link: "https://sentry.io/organizations/test-org/issues/1117540176/events/bb78c1407cea4519aa397afc059c793d/",
    },
  ],
  [
    "sentry",
    "sentry-issue-resolved",
    { "request-id": "req-1" },
    { fingerprint: "issue:1117540176", status: "resolved", event_id: "req-1", service: "front-end" },
  ],
  [
    "pagerduty",
    "pagerduty",
    {},
    {
      event_id: "5ac64822-4adc-4fda-ade0-410becf0de4f",
      fingerprint: "incident:PGR0VU2",
      title: "A little bump in the road",
      service: "API Service",
      environment: null,
      severity: "critical",
      occurred_at: "2020-10-02T18:45:22.169Z",
      link: "https://acme.pagerduty.com/incidents/PGR0VU2",
    },
  ],
  [
    "alertmanager",
    "alertmanager",
    {},
    {
      fingerprint: "c6cf3e2a5fc4a5f2",
      title: "High request latency on checkout",
      service: "checkout",
      environment: "production",
      severity: "critical",
      occurred_at: "2024-05-01T09:12:30.000Z",
    },
  ],
  [
    "grafana",
    "grafana",
    {},
    {
      fingerprint: "57c6d9296de2ad39",
      title: "CPU usage above 90% on web-01",
      severity: "medium",
      service: "web",
      environment: "staging",
      link: "https://grafana.example.com/d/fdlwjnyim1la8f?orgId=1&viewPanel=1",
    },
  ],
  [
    "datadog",
    "datadog",
    {},
    {
      event_id: "7541208932049261548",
      fingerprint: "5d4c35b2bd7f1cdd0d8d42c2e9c2b0a7",
      title: "Error rate above 5% on checkout",
      service: "checkout",
      severity: "high",
      occurred_at: "2024-05-01T10:00:00.000Z",
    },
  ],
  [
    "opsgenie",
    "opsgenie",
    {},
    {
      fingerprint: "alias:disk-usage-db-1",
      title: "Disk usage above 95% on db-1",
      service: "postgres",
      severity: "critical",
      occurred_at: "2024-05-01T10:00:00.123Z",
    },
  ],
  [
    "github",
    "github",
    { "x-github-event": "workflow_run", "x-github-delivery": "d-1" },
    {
      event_id: "d-1",
      fingerprint: "workflow:octo-org/octo-repo:159038:main",
      title: "Build failed on main in octo-org/octo-repo",
    },
  ],
  [
    "generic",
    "generic",
    {},
    {
      event_id: "deploy-check-42",
      fingerprint: "payments-api-5xx",
      severity: "critical",
      occurred_at: "2024-05-01T12:00:00.000Z",
    },
  ],
];

describe("vendor samples become normalized events", () => {
  test("every documented sample reads as one event with the fields a user expects", async () => {
    for (const [source, fixture, headers, expected] of EXPECTED) {
      const events = await adapt(source, fixture, headers);
      expect({ fixture, count: events.length }).toEqual({ fixture, count: 1 });
      expect({ fixture, ...events[0] }).toMatchObject({ fixture, source, status: "firing", ...expected });
    }
  });

  test("what changes nothing yields no event: a GitHub ping, a run in progress, a PagerDuty annotation", async () => {
    expect(
      ADAPTERS.github({ body: { zen: "hi", hook_id: 1 }, headers: new Headers({ "x-github-event": "ping" }) }),
    ).toEqual([]);
    const run = (await sample("github")) as { action: string };
    expect(ADAPTERS.github({ body: { ...run, action: "in_progress" }, headers: new Headers() })).toEqual([]);
    const pd = (await sample("pagerduty")) as { event: Record<string, unknown> };
    expect(
      ADAPTERS.pagerduty({
        body: { event: { ...pd.event, event_type: "incident.annotated" } },
        headers: new Headers(),
      }),
    ).toEqual([]);
  });

  test("a resolution: alertmanager resolved alert, datadog recovery, opsgenie close", async () => {
    const am = (await sample("alertmanager")) as { alerts: Record<string, unknown>[] };
    const alert = { ...am.alerts[0], status: "resolved", endsAt: "2024-05-01T09:30:00Z" };
    expect(ADAPTERS.alertmanager({ body: { ...am, alerts: [alert] }, headers: new Headers() })[0]).toMatchObject({
      status: "resolved",
      occurred_at: "2024-05-01T09:30:00.000Z",
    });
    const dd = (await sample("datadog")) as Record<string, unknown>;
    expect(
      ADAPTERS.datadog({ body: { ...dd, alert_transition: "Recovered" }, headers: new Headers() })[0]?.status,
    ).toBe("resolved");
    const og = (await sample("opsgenie")) as Record<string, unknown>;
    expect(ADAPTERS.opsgenie({ body: { ...og, action: "Close" }, headers: new Headers() })[0]?.status).toBe("resolved");
  });

  test("an unknown shape is a 422 for every adapter, never a crash", () => {
    const outcome = (run: () => unknown[]) => {
      try {
        return run().length ? "accepted" : "ignored";
      } catch (error) {
        return error instanceof AppError ? error.code : `crash: ${(error as Error).message}`;
      }
    };
    for (const [source, adapter] of Object.entries(ADAPTERS)) {
      for (const body of [null, [], "x", 42, { unrelated: true }]) {
        const result = outcome(() => adapter({ body, headers: new Headers() }));
        // GitHub answers any object that is not a workflow_run with nothing to do (its pings, other events).
        const expected =
          source === "github" && JSON.stringify(body) === '{"unrelated":true}' ? "ignored" : "validation_failed";
        expect({ source, body, result }).toEqual({ source, body, result: expected });
      }
    }
  });
});

describe("signatures", () => {
  const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const body = '{"title":"x"}';
  const now = Date.now();
  test("ours and Standard Webhooks: valid, wrong, stale", () => {
    const ok = verifySignature(
      "generic",
      new Headers({ "x-causeloop-signature": causeloopSignature(secret, body) }),
      body,
      secret,
      now,
    );
    expect(ok).toMatchObject({ ok: true, scheme: "causeloop" });
    expect(
      verifySignature(
        "generic",
        new Headers({ "x-causeloop-signature": causeloopSignature("whsec_other", body) }),
        body,
        secret,
        now,
      ),
    ).toEqual({ ok: false, reason: "invalid" });
    const old = causeloopSignature(secret, body, new Date(now - 6 * 60_000));
    expect(verifySignature("generic", new Headers({ "x-causeloop-signature": old }), body, secret, now)).toEqual({
      ok: false,
      reason: "stale",
    });
    const standard = new Headers(signedHeaders("msg_1", body, [secret]));
    expect(verifySignature("datadog", standard, body, secret, now)).toMatchObject({ ok: true, messageId: "msg_1" });
    expect(verifySignature("datadog", standard, `${body} `, secret, now)).toEqual({ ok: false, reason: "invalid" });
    const stale = new Headers(signedHeaders("msg_1", body, [secret], new Date(now - 10 * 60_000)));
    expect(verifySignature("datadog", stale, body, secret, now)).toEqual({ ok: false, reason: "stale" });
    expect(verifySignature("datadog", new Headers(), body, secret, now)).toEqual({ ok: false, reason: "missing" });
  });

  test("Grafana's HMAC, with its timestamp header (refused when stale) and without", () => {
    const ts = (at: number) => String(Math.floor(at / 1000));
    const signed = (at: number) =>
      new Headers({
        "x-grafana-alerting-signature": new Bun.CryptoHasher("sha256", secret)
          .update(`${ts(at)}:${body}`)
          .digest("hex"),
        "x-grafana-alerting-timestamp": ts(at),
      });
    expect(verifySignature("grafana", signed(now), body, secret, now)).toMatchObject({ ok: true, scheme: "grafana" });
    expect(verifySignature("grafana", signed(now - 6 * 60_000), body, secret, now)).toEqual({
      ok: false,
      reason: "stale",
    });
    const bare = new Bun.CryptoHasher("sha256", secret).update(body).digest("hex");
    expect(
      verifySignature("grafana", new Headers({ "x-grafana-alerting-signature": bare }), body, secret, now).ok,
    ).toBe(true);
    // The timestamp is part of what is signed: changing it breaks the signature.
    const moved = signed(now);
    moved.set("x-grafana-alerting-timestamp", ts(now - 1000));
    expect(verifySignature("grafana", moved, body, secret, now)).toEqual({ ok: false, reason: "invalid" });
  });

  test("vendor schemes: GitHub, Sentry, PagerDuty; never another vendor's header", () => {
    const hex = new Bun.CryptoHasher("sha256", secret).update(body).digest("hex");
    expect(
      verifySignature("github", new Headers({ "x-hub-signature-256": `sha256=${hex}` }), body, secret, now).ok,
    ).toBe(true);
    expect(verifySignature("sentry", new Headers({ "sentry-hook-signature": hex }), body, secret, now).ok).toBe(true);
    expect(
      verifySignature("pagerduty", new Headers({ "x-pagerduty-signature": `v1=00ff,v1=${hex}` }), body, secret, now).ok,
    ).toBe(true);
    expect(
      verifySignature("datadog", new Headers({ "x-hub-signature-256": `sha256=${hex}` }), body, secret, now),
    ).toEqual({ ok: false, reason: "missing" });
    expect(verifySignature("github", new Headers({ "x-hub-signature-256": "sha256=00" }), body, secret, now)).toEqual({
      ok: false,
      reason: "invalid",
    });
  });
});
