// The outbound policy of the request being served. The HTTP front door (createApp) runs every request
// inside runWithOutbound(policy), so code deep in a service (the identity exchange's key-set lookup) uses
// the operator's policy without threading it through every signature. Outside a request it is the strict
// default (no allowlist): forgetting to set it refuses more, never less.
import { AsyncLocalStorage } from "node:async_hooks";
import { outboundPolicy, type OutboundPolicy } from "./policy.ts";

const STRICT = outboundPolicy();
const current = new AsyncLocalStorage<OutboundPolicy>();

export function runWithOutbound<T>(policy: OutboundPolicy, fn: () => T): T {
  return current.run(policy, fn);
}

export function currentOutbound(): OutboundPolicy {
  return current.getStore() ?? STRICT;
}
