// User-given URLs (webhook targets, SSO key-set URLs) are checked when they are stored, so a bad one is a
// clear 422 at once rather than a silent failure later, and credentials never enter the database, a
// response or the audit trail. Rows stored before this check are redacted when read.
import { AppError } from "../errors.ts";
import { checkUserUrl, OutboundRefused, type OutboundPolicy } from "./policy.ts";

/** Throws validation_failed naming the field when the URL breaks the outbound policy (never echoing it). */
export function assertUserUrl(raw: string, policy: OutboundPolicy, field: string): void {
  try {
    checkUserUrl(raw, policy);
  } catch (error) {
    if (error instanceof OutboundRefused) throw new AppError("validation_failed", `${field} ${error.message}`);
    throw error;
  }
}

/** The URL with any user:password@ replaced by `redacted@`; other text is returned unchanged. */
export function redactUrlCredentials(raw: string): string {
  return raw.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, "$1redacted@");
}
