// The one way to fetch a user-given URL. Each hop is checked by the policy, its host resolved once and every
// address checked, then the connection is pinned to the checked address (the URL's host becomes that IP;
// the Host header and the TLS server name stay the original host, so the certificate is still verified
// against the name): a DNS answer that changes between the check and the connection (rebinding) is never
// used. Redirects are re-checked hop by hop; the whole exchange has a deadline and the body a size cap.
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { blockedRange, isMetadataAddress } from "./ranges.ts";
import { checkUrl, hostOf, OutboundRefused, type OutboundPolicy } from "./policy.ts";

interface Target {
  url: URL;
  /** The checked addresses to connect to, in order (an allowlisted host name's too: any but a metadata address). */
  addresses: string[];
}

/** Checks one hop: the URL, then (unless its host is allowlisted by name) every address it resolves to. */
async function resolveTarget(raw: string | URL, policy: OutboundPolicy): Promise<Target> {
  const url = checkUrl(raw, policy);
  const host = hostOf(url);
  const allowlistedName = policy.allowsHost(host) && !isIP(host);
  let addresses: string[];
  if (isIP(host)) {
    addresses = [host];
  } else {
    try {
      addresses = (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
    } catch {
      throw new OutboundRefused(`host ${host} could not be resolved`);
    }
  }
  if (!addresses.length) throw new OutboundRefused(`host ${host} could not be resolved`);
  // Every answer must be acceptable: an attacker's DNS could list a public address next to a private one.
  for (const address of addresses) {
    // An allowlisted name may resolve anywhere but to a cloud metadata address.
    if (isMetadataAddress(address))
      throw new OutboundRefused(`host ${host} resolves to ${address}, a metadata address`);
    if (allowlistedName) continue;
    const range = blockedRange(address);
    if (range && !policy.allowsAddress(address))
      throw new OutboundRefused(`host ${host} resolves to ${address}, a ${range} address`);
  }
  return { url, addresses };
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const NULL_BODY = new Set([101, 204, 205, 304]);

/** One request to one checked address (or, for an allowlisted name, wherever DNS says). */
function pinnedFetch(
  target: Target,
  address: string | undefined,
  init: RequestInit,
  signal: AbortSignal,
): Promise<Response> {
  const headers = new Headers(init.headers);
  const options: BunFetchRequestInit = { ...init, headers, signal, redirect: "manual", keepalive: false };
  let url = target.url;
  if (address && address !== hostOf(target.url)) {
    url = new URL(target.url);
    url.hostname = isIP(address) === 6 ? `[${address}]` : address;
    headers.set("host", target.url.host);
    if (target.url.protocol === "https:") options.tls = { serverName: target.url.hostname };
  }
  return fetch(url, options);
}

const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "ConnectionRefused",
  "FailedToOpenSocket",
]);

/** Tries the checked addresses in order (as any client does when one is unreachable). */
async function connect(target: Target, init: RequestInit, signal: AbortSignal): Promise<Response> {
  const candidates = target.addresses.length ? target.addresses : [undefined];
  let code = "network error";
  for (const address of candidates) {
    try {
      return await pinnedFetch(target, address, init, signal);
    } catch (error) {
      if (signal.aborted) throw new OutboundRefused(`request to ${target.url.host} timed out`);
      // Bun's message names the pinned IP URL; keep only the code.
      code = (error as { code?: string }).code ?? code;
      if (!UNREACHABLE.has(code)) break; // only a connection never made is retried: a request is sent once
    }
  }
  throw new OutboundRefused(`request to ${target.url.host} failed (${code})`);
}

/** Reads the body up to the cap into a new Response, so no caller can be made to buffer an endless stream. */
async function capped(response: Response, host: string, maxBytes: number, signal: AbortSignal): Promise<Response> {
  const init = { status: response.status, statusText: response.statusText, headers: response.headers };
  if (!response.body || NULL_BODY.has(response.status)) return new Response(null, init);
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > maxBytes) {
    await response.body.cancel().catch(() => {});
    throw new OutboundRefused(`response from ${host} is larger than ${maxBytes} bytes`);
  }
  const reader = response.body.getReader();
  const stop = () => reader.cancel().catch(() => {});
  signal.addEventListener("abort", stop, { once: true });
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await stop();
        throw new OutboundRefused(`response from ${host} is larger than ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof OutboundRefused) throw error;
    throw new OutboundRefused(
      signal.aborted ? `request to ${host} timed out` : `reading the response from ${host} failed`,
    );
  } finally {
    signal.removeEventListener("abort", stop);
  }
  if (signal.aborted) throw new OutboundRefused(`request to ${host} timed out`);
  return new Response(Buffer.concat(chunks), init);
}

/**
 * fetch() for user-given URLs, under the policy. Redirects: with `redirect: "manual"` the 3xx is returned
 * as is; otherwise GET/HEAD redirects are followed up to the policy's limit, each hop checked again
 * (credentials headers dropped across origins); other methods get the 3xx back. Throws OutboundRefused.
 */
export async function guardedFetch(raw: string | URL, init: RequestInit, policy: OutboundPolicy): Promise<Response> {
  const deadline = AbortSignal.timeout(policy.timeoutMs);
  const signal = init.signal ? AbortSignal.any([init.signal, deadline]) : deadline;
  const method = (init.method ?? "GET").toUpperCase();
  let current: string | URL = raw;
  let headers = new Headers(init.headers);
  for (let hop = 0; ; hop++) {
    const target = await resolveTarget(current, policy);
    if (signal.aborted) throw new OutboundRefused(`request to ${target.url.host} timed out`);
    const response = await connect(target, { ...init, headers }, signal);
    const location = response.headers.get("location");
    const follow =
      REDIRECTS.has(response.status) &&
      location &&
      init.redirect !== "manual" &&
      (method === "GET" || method === "HEAD");
    if (!follow) return capped(response, target.url.host, policy.maxBytes, signal);
    await response.body?.cancel().catch(() => {});
    if (init.redirect === "error") throw new OutboundRefused(`${target.url.host} answered with a redirect`);
    if (hop >= policy.maxRedirects)
      throw new OutboundRefused(`more than ${policy.maxRedirects} redirects from ${target.url.host}`);
    let next: URL;
    try {
      next = new URL(location, target.url);
    } catch {
      throw new OutboundRefused(`${target.url.host} redirected to an invalid URL`);
    }
    if (next.origin !== target.url.origin) {
      headers = new Headers(headers);
      for (const name of ["authorization", "cookie", "proxy-authorization"]) headers.delete(name);
    }
    current = next;
  }
}
