// The one shape every vendor's payload is turned into before it is stored: the normalized event. The generic
// JSON format (README, "Ingestion") and the NDJSON import take this shape as it is.
import { ISSUE_SEVERITIES } from "../issues/service.ts";

export type Severity = (typeof ISSUE_SEVERITIES)[number];
export type EventStatus = "firing" | "resolved";

export interface NormalizedEvent {
  /** The adapter that read it: sentry, pagerduty, alertmanager, datadog, grafana, opsgenie, github or generic. */
  source: string;
  /** The vendor's id of this event (or one derived from what identifies it): accepted once per source. */
  event_id: string;
  /** The vendor's grouping key when it has one; otherwise the event's cluster groups it (src/intelligence/). */
  fingerprint: string | null;
  title: string;
  message: string;
  service: string | null;
  environment: string | null;
  severity: Severity;
  status: EventStatus;
  /** ISO 8601. */
  occurred_at: string;
  /** Back to the vendor's page for it. */
  link: string | null;
}

export const SEVERITIES: readonly Severity[] = ISSUE_SEVERITIES;
