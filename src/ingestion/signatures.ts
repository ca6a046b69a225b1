// Who sent an inbound webhook: every request must carry a valid signature made with the webhook's signing
// secret, in one of the schemes below, or it is refused (fail closed). Comparisons are constant-time.
//   standard_webhooks  webhook-id / webhook-timestamp / webhook-signature (v1,<base64 HMAC-SHA256 of id.ts.body>)
//   causeloop          x-causeloop-signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">
//   sentry             sentry-hook-signature: <hex HMAC-SHA256 of the body>
//   github             x-hub-signature-256: sha256=<hex HMAC-SHA256 of the body>
//   pagerduty          x-pagerduty-signature: v1=<hex HMAC-SHA256 of the body>[,v1=...]
//   grafana            x-grafana-alerting-signature: <hex HMAC-SHA256 of "ts:body"> with x-grafana-alerting-timestamp: ts
//                      (the contact point's HMAC settings; without the timestamp header, of the body alone)
// Ours, Standard Webhooks and Grafana's with its timestamp: outside REPLAY_WINDOW_SECONDS it is refused. The
// other vendor schemes sign no timestamp; a replay of one of their requests is caught by the vendor event id,
// accepted once.
import { createHmac, timingSafeEqual } from "node:crypto";
import { signer } from "../delivery/signing.ts";
import type { Source } from "./adapters/index.ts";

export type Scheme = "standard_webhooks" | "causeloop" | "sentry" | "github" | "pagerduty" | "grafana";
export const REPLAY_WINDOW_SECONDS = 300;

/** The vendors that sign with a scheme of their own (the others use ours or Standard Webhooks). */
export const VENDOR_SCHEMES: Partial<Record<Source, Scheme>> = {
  sentry: "sentry",
  github: "github",
  pagerduty: "pagerduty",
  grafana: "grafana",
};

export type Verdict =
  | { ok: true; scheme: Scheme; messageId: string | null }
  | { ok: false; reason: "missing" | "invalid" | "stale" };

const hmacHex = (secret: string, content: string) => createHmac("sha256", secret).update(content).digest("hex");

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const fresh = (seconds: number, now: number) =>
  Number.isSafeInteger(seconds) && Math.abs(now / 1000 - seconds) <= REPLAY_WINDOW_SECONDS;

/** The x-causeloop-signature header for a body sent at `at` (what a sender computes). */
export function causeloopSignature(secret: string, body: string, at = new Date()): string {
  const t = Math.floor(at.getTime() / 1000);
  return `t=${t},v1=${hmacHex(secret, `${t}.${body}`)}`;
}

function verifyCauseloop(header: string, secret: string, body: string, now: number): Verdict {
  const parts = header.split(",").map((p) => p.trim().split("="));
  const t = parts.find(([k]) => k === "t")?.[1];
  const signatures = parts.filter(([k]) => k === "v1").map(([, v]) => v ?? "");
  if (!t || !/^\d{1,12}$/.test(t) || !signatures.length) return { ok: false, reason: "invalid" };
  const expected = hmacHex(secret, `${t}.${body}`);
  if (!signatures.some((s) => sameText(s, expected))) return { ok: false, reason: "invalid" };
  return fresh(Number(t), now) ? { ok: true, scheme: "causeloop", messageId: null } : { ok: false, reason: "stale" };
}

function verifyStandard(headers: Headers, secret: string, body: string, now: number): Verdict {
  const id = headers.get("webhook-id");
  const timestamp = headers.get("webhook-timestamp");
  const signature = headers.get("webhook-signature");
  if (!id || !timestamp || !signature || !/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "invalid" };
  // The library checks the window too, but against its own clock and without saying which check failed.
  const expected =
    signer(secret)
      .sign(id, new Date(Number(timestamp) * 1000), body)
      .split(",")[1] ?? "";
  const given = signature.split(" ").map((s) => s.split(",")[1] ?? "");
  if (!given.some((s) => sameText(s, expected))) return { ok: false, reason: "invalid" };
  return fresh(Number(timestamp), now)
    ? { ok: true, scheme: "standard_webhooks", messageId: id.slice(0, 300) }
    : { ok: false, reason: "stale" };
}

function verifyGrafana(headers: Headers, header: string, secret: string, body: string, now: number): Verdict {
  const timestamp = headers.get("x-grafana-alerting-timestamp");
  if (timestamp !== null && !/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "invalid" };
  const expected = hmacHex(secret, timestamp === null ? body : `${timestamp}:${body}`);
  if (!sameText(header.trim().toLowerCase(), expected)) return { ok: false, reason: "invalid" };
  return timestamp === null || fresh(Number(timestamp), now)
    ? { ok: true, scheme: "grafana", messageId: null }
    : { ok: false, reason: "stale" };
}

function verifyVendor(scheme: Scheme, header: string, secret: string, body: string): Verdict {
  const expected = hmacHex(secret, body);
  const given =
    scheme === "github"
      ? [header.replace(/^sha256=/, "")]
      : scheme === "pagerduty"
        ? header.split(",").map((s) => s.trim().replace(/^v1=/, ""))
        : [header.trim()];
  return given.some((s) => sameText(s.toLowerCase(), expected))
    ? { ok: true, scheme, messageId: null }
    : { ok: false, reason: "invalid" };
}

const VENDOR_HEADERS: Partial<Record<Scheme, string>> = {
  sentry: "sentry-hook-signature",
  github: "x-hub-signature-256",
  pagerduty: "x-pagerduty-signature",
  grafana: "x-grafana-alerting-signature",
};

/** Checks the request's signature; `now` is epoch milliseconds. */
export function verifySignature(
  source: Source,
  headers: Headers,
  body: string,
  secret: string,
  now = Date.now(),
): Verdict {
  if (headers.has("webhook-signature")) return verifyStandard(headers, secret, body, now);
  const ours = headers.get("x-causeloop-signature");
  if (ours) return verifyCauseloop(ours, secret, body, now);
  const scheme = VENDOR_SCHEMES[source];
  const header = scheme ? headers.get(VENDOR_HEADERS[scheme] as string) : null;
  if (scheme === "grafana" && header) return verifyGrafana(headers, header, secret, body, now);
  if (scheme && header) return verifyVendor(scheme, header, secret, body);
  return { ok: false, reason: "missing" };
}
