// Outbound requests to user-given URLs: the policy, the guarded fetch, remote key sets, write-time checks.
export { checkUrl, checkUserUrl, hostOf, outboundPolicy, OutboundRefused, parseAllowlist, type OutboundAllowlist, type OutboundPolicy } from "./policy.ts";
export { blockedRange } from "./ranges.ts";
export { guardedFetch, resolveTarget } from "./fetch.ts";
export { remoteKeySet } from "./jwks.ts";
export { currentOutbound, runWithOutbound } from "./context.ts";
export { assertUserUrl, redactUrlCredentials } from "./user-url.ts";
