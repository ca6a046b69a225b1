// The adapters by source name: an inbound webhook's `source` chooses the one that reads its payloads.
import { alertmanager } from "./alertmanager.ts";
import { datadog } from "./datadog.ts";
import { generic } from "./generic.ts";
import { github } from "./github.ts";
import { grafana } from "./grafana.ts";
import { opsgenie } from "./opsgenie.ts";
import { pagerduty } from "./pagerduty.ts";
import { sentry } from "./sentry.ts";
import type { Adapter } from "./types.ts";

export const ADAPTERS = { sentry, pagerduty, alertmanager, datadog, grafana, opsgenie, github, generic } as const;
export type Source = keyof typeof ADAPTERS;
export const SOURCES = Object.keys(ADAPTERS) as Source[];

export const isSource = (value: string): value is Source => Object.hasOwn(ADAPTERS, value);
export const adapterFor = (source: Source): Adapter => ADAPTERS[source];
