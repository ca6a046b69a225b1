// What the sign-in flows need: the session machinery (door, anonymous lookups, JWT keys, key ring) and the
// public base URL the IdPs send people back to (CAUSELOOP_PUBLIC_URL): redirect URI, ACS and SP entity id
// are built from it, never from a request's Host header.
import { AppError } from "../../errors.ts";
import type { SessionDeps } from "../sessions.ts";

export type SsoDeps = SessionDeps & { publicUrl: string | undefined };

/** `<public base>/v1/auth/sso/<connection>/<endpoint>`; 404 when the server has no public URL configured. */
export function ssoEndpoint(deps: SsoDeps, connectionId: string, endpoint: "callback" | "acs" | "metadata"): string {
  if (!deps.publicUrl)
    throw new AppError("not_found", "single sign-on needs the server's public URL (CAUSELOOP_PUBLIC_URL)");
  return `${deps.publicUrl}/v1/auth/sso/${connectionId}/${endpoint}`;
}
