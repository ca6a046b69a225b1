// Who may scrape: a bearer token compared in constant time (both sides hashed first, so neither their
// lengths nor a common prefix shows in the timing). The token itself is never logged or echoed.
import { createHash, timingSafeEqual } from "node:crypto";

const digest = (text: string) => createHash("sha256").update(text).digest();

/** A check of `Authorization: Bearer <token>` against the configured token. */
export function scrapeAuthorizer(token: string): (authorization: string | null) => boolean {
  const expected = digest(token);
  return (authorization) => {
    const presented = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? "")?.[1] ?? "";
    return timingSafeEqual(digest(presented), expected);
  };
}

export const SCRAPE_REFUSED = "the metrics endpoint needs Authorization: Bearer <CAUSELOOP_METRICS_TOKEN>";
