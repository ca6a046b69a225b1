// Standard Webhooks signing (https://www.standardwebhooks.com, the `standardwebhooks` package): the signed
// content is `${webhook-id}.${webhook-timestamp}.${body}`, HMAC-SHA256 under the endpoint's secret
// (`whsec_` + base64). During a rotation's overlap both the new and the previous secret sign, space-separated,
// so a receiver still holding the old secret keeps verifying.
import { Webhook } from "standardwebhooks";
import { AppError } from "../errors.ts";

const SECRET = /^whsec_[A-Za-z0-9+/]{32,}={0,2}$/;

/** A new endpoint secret: `whsec_` + base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`;
}

/** A secret a client chose must be usable by every Standard Webhooks library. */
export function assertWebhookSecret(secret: string): void {
  const bytes = SECRET.test(secret) ? Buffer.from(secret.slice(6), "base64").length : 0;
  if (bytes < 24 || bytes > 64)
    throw new AppError(
      "validation_failed",
      "secret must be a Standard Webhooks secret: 'whsec_' followed by the base64 of 24 to 64 random bytes",
    );
}

/** Secrets stored before Standard Webhooks signing were `whsec_` + base64url: the same bytes, re-spelt. */
export function signer(secret: string): Webhook {
  const body = secret.startsWith("whsec_") ? secret.slice(6) : secret;
  const base64 = body.replace(/-/g, "+").replace(/_/g, "/");
  return new Webhook(`whsec_${base64}${"=".repeat((4 - (base64.length % 4)) % 4)}`);
}

/** The three Standard Webhooks headers for one attempt (one signature per secret given). */
export function signedHeaders(
  eventId: string,
  body: string,
  secrets: string[],
  now = new Date(),
): Record<"webhook-id" | "webhook-timestamp" | "webhook-signature", string> {
  return {
    "webhook-id": eventId,
    "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
    "webhook-signature": secrets.map((secret) => signer(secret).sign(eventId, now, body)).join(" "),
  };
}
