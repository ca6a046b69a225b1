// The security routes' answers, as the OpenAPI contract names them (#/components/schemas/...).
import { t } from "elysia";
import { component, Nullable, Page, Timestamp } from "../http/contract.ts";

export const SecurityAlert = component(
  "SecurityAlert",
  t.Object({
    id: t.String({ examples: ["alr_01jd0000000000000000000000"] }),
    rule: t.String({ examples: ["failed_logins_account", "mfa_disabled", "new_owner"] }),
    severity: t.String({ examples: ["critical", "high", "medium", "low"] }),
    summary: t.String(),
    details: t.Record(t.String(), t.Unknown(), { description: "What the rule saw (ids and addresses, no secret)" }),
    occurrences: t.Integer({ description: "How often the rule fired for this subject while the alert was open" }),
    status: t.String({ examples: ["open", "acknowledged", "resolved"] }),
    first_seen_at: Timestamp,
    last_seen_at: Timestamp,
    acknowledged_by: Nullable(t.String()),
    acknowledged_at: Nullable(Timestamp),
    ack_note: Nullable(t.String()),
  }),
);
export const SecurityAlertPage = component("SecurityAlertPage", Page(SecurityAlert));
