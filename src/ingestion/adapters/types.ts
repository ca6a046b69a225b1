// An adapter turns one vendor's webhook payload (already signature-checked and parsed) into normalized events.
// Pure: no I/O, no clock but the payload's; an unknown shape is a 422 (AppError validation_failed).
import type { NormalizedEvent } from "../event.ts";

export interface AdapterInput {
  body: unknown;
  /** The request's headers: some vendors put the event's id or type there. */
  headers: Headers;
}

/** Zero events is a valid answer (a ping, a run that did not fail, an action that changes nothing). */
export type Adapter = (input: AdapterInput) => NormalizedEvent[];
