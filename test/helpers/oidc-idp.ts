// A real OpenID Provider (the `oidc-provider` package) on loopback, for single sign-on tests, and a tiny
// browser (cookie jar, redirects, the provider's dev login form) that walks its sign-in pages.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setSystemTime } from "bun:test";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import Provider from "oidc-provider";

export interface Account {
  email?: string;
  email_verified?: boolean;
  groups?: string[];
}

export interface TestIdp {
  issuer: string;
  /** Replaces the provider (new keys, new client): what the server answers from now on. */
  configure(options: { redirectUri: string; signingKey?: JWK; servedKeys?: JWK[] }): void;
  accounts: Map<string, Account>;
  /** The ID token of the next code redemption is issued this many seconds in the past. */
  backdateNextToken(seconds: number): void;
  stop(): Promise<void>;
}

export const CLIENT_ID = "causeloop";
export const CLIENT_SECRET = "test-client-secret-0123456789";

export async function signingKey(kid: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg: "RS256", use: "sig" };
}

const publicPart = ({ d, p, q, dp, dq, qi, ...rest }: JWK): JWK => rest;

export async function startTestIdp(): Promise<TestIdp> {
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  let served: JWK[] | undefined;
  let backdate = 0;
  const accounts = new Map<string, Account>();
  const server: Server = createServer((req, res) => {
    if (served && req.url?.startsWith("/jwks")) {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ keys: served.map(publicPart) }));
      return;
    }
    if (backdate && req.url?.startsWith("/token")) {
      // The provider's clock runs late for this one request: its ID token is already expired when it arrives.
      const seconds = backdate;
      backdate = 0;
      setSystemTime(new Date(Date.now() - seconds * 1000));
      res.on("finish", () => setSystemTime());
    }
    handler?.(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const defaultKey = await signingKey("key-1");
  return {
    issuer,
    accounts,
    configure({ redirectUri, signingKey, servedKeys }) {
      served = servedKeys;
      const provider = new Provider(issuer, {
        clients: [
          {
            client_id: CLIENT_ID,
            client_secret: CLIENT_SECRET,
            redirect_uris: [redirectUri],
            grant_types: ["authorization_code"],
            response_types: ["code"],
          },
        ],
        jwks: { keys: [signingKey ?? defaultKey] },
        cookies: { keys: ["test-idp-cookie-key-0123456789"] },
        claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["groups"] },
        conformIdTokenClaims: false,
        features: { devInteractions: { enabled: true } },
        findAccount: (_ctx, sub) => ({
          accountId: sub,
          claims: () => ({ sub, ...(accounts.get(sub) ?? {}) }),
        }),
        loadExistingGrant: async (ctx) => {
          const accountId = ctx.oidc.session?.accountId;
          if (!accountId || !ctx.oidc.client) return undefined;
          const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId });
          grant.addOIDCScope("openid email profile");
          await grant.save();
          return grant;
        },
      });
      handler = provider.callback();
    },
    backdateNextToken(seconds) {
      backdate = seconds;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Walks the IdP's pages from the sign-in URL to the redirect back to `publicUrl`, signing in as `login`. */
export async function signInAtIdp(authorizationUrl: string, publicUrl: string, login: string): Promise<URL> {
  const jar = new Map<string, string>();
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  const keep = (response: Response) => {
    for (const line of response.headers.getSetCookie()) {
      const [pair = ""] = line.split(";");
      const eq = pair.indexOf("=");
      jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
  };
  let url = new URL(authorizationUrl);
  for (let hop = 0; hop < 12; hop++) {
    if (url.href.startsWith(publicUrl)) return url;
    const response = await fetch(url, { redirect: "manual", headers: { cookie: cookie() } });
    keep(response);
    const location = response.headers.get("location");
    if (location) {
      url = new URL(location, url);
      continue;
    }
    const html = await response.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (!action) throw new Error(`the IdP answered ${response.status} without a form: ${html.slice(0, 300)}`);
    const posted = await fetch(new URL(action.replaceAll("&amp;", "&"), url), {
      method: "POST",
      redirect: "manual",
      headers: { cookie: cookie(), "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ prompt: "login", login, password: "any" }),
    });
    keep(posted);
    const next = posted.headers.get("location");
    if (!next)
      throw new Error(`the IdP's login form answered ${posted.status}: ${(await posted.text()).slice(0, 300)}`);
    url = new URL(next, url);
  }
  throw new Error("too many hops at the IdP");
}
