// The relay's API: relay tokens (/v1/relay-tokens: an owner or admin, interactively), the relays' connections
// (/v1/relays), a query through a relay (POST /v1/connectors/{id}/query, scope db:query: analyst and up) and
// its record (/v1/relay-queries/{id}). The relay itself connects at GET /v1/relay/connect with a WebSocket
// upgrade, which `serve` takes before this app (src/relay/hub/hub.ts); here that path answers the plain GET.
import { Elysia, t } from "elysia";
import { PageQuery, responses } from "../http/contract.ts";
import type { TenantDoor } from "../db/tenant.ts";
import { AppError } from "../errors.ts";
import { requireInteractive, type authPlugin } from "../identity/auth.ts";
import type { RelayHub } from "./hub/hub.ts";
import { runRelayQuery } from "./queries.ts";
import { PROTOCOL_VERSION } from "./protocol.ts";
import {
  CreatedRelayToken,
  RelayConnectCheck,
  RelayPage,
  RelayQueryBody,
  RelayQueryRecord,
  RelayQueryResult,
  RelayTokenPage,
} from "./schemas.ts";
import {
  createRelayToken,
  findRelayToken,
  listRelayTokens,
  parseRelayToken,
  RELAY_UNAUTHORIZED,
  revokeRelayToken,
  rotateRelayToken,
} from "./tokens.ts";
import { getRelayQuery, listRelays } from "./views.ts";

const idOf = (prefix: string, what: string) =>
  t.Object({ id: t.String({ pattern: `^${prefix}_[0-9a-z]{26}$`, description: `A ${what} id (${prefix}_...)` }) });
const TokenId = idOf("rlt", "relay token");
const Name = t.String({
  pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$",
  description: "The relay's name (letters, digits, . _ -): its databases appear as connectors <name>/<database>",
});

export function relayRoutes(auth: ReturnType<typeof authPlugin>, door: TenantDoor, hub?: RelayHub) {
  return new Elysia({ name: "relay" })
    .get(
      "/v1/relay/connect",
      async ({ request }) => {
        const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.get("authorization") ?? "")?.[1];
        const parsed = bearer ? parseRelayToken(bearer) : undefined;
        const found =
          parsed && (await door(parsed.workspaceId, (tx) => findRelayToken(tx, parsed.workspaceId, parsed.hash)));
        if (!found) throw new AppError("unauthorized", RELAY_UNAUTHORIZED);
        // Without an upgrade: the token is good; say what to speak (`causeloop relay --check` asks this).
        return { relay: found.name, protocol_version: PROTOCOL_VERSION, upgrade: "websocket" as const };
      },
      {
        detail: {
          summary: "The relay's WebSocket (causeloop relay): upgrade with Authorization: Bearer <relay token>",
          description:
            "Protocol v1, JSON text frames: hello / welcome, heartbeat / heartbeat_ack, query / result, draining (src/relay/protocol.ts). Without an upgrade it answers 200 naming the token's relay (a check of the token); a missing or revoked relay token is 401.",
          tags: ["relay"],
          security: [{ relayToken: [] }],
          responses: responses({
            101: { description: "Switching Protocols: the relay's socket" },
            200: RelayConnectCheck,
          }),
        },
      },
    )
    .use(auth)
    .post(
      "/v1/relay-tokens",
      ({ caller, body, set }) => {
        requireInteractive(caller.principal, { recent: true });
        set.status = 201;
        return caller.tenant((tx) => createRelayToken(tx, caller.actor, body));
      },
      {
        scope: "connectors:write",
        body: t.Object({ name: Name }, { additionalProperties: false }),
        detail: {
          summary: "Create a relay token (shown once; owner or admin, interactive sign-in)",
          tags: ["relay"],
          responses: responses({ 201: CreatedRelayToken }),
        },
      },
    )
    .get(
      "/v1/relay-tokens",
      ({ caller, query }) => caller.tenant((tx) => listRelayTokens(tx, caller.principal.workspaceId, query)),
      {
        scope: "connectors:write",
        query: t.Object(PageQuery),
        detail: {
          summary: "List relay tokens (never their secrets)",
          tags: ["relay"],
          responses: responses({ 200: RelayTokenPage }),
        },
      },
    )
    .post(
      "/v1/relay-tokens/:id/rotate",
      ({ caller, params }) => {
        requireInteractive(caller.principal, { recent: true });
        return caller.tenant((tx) => rotateRelayToken(tx, caller.actor, params.id));
      },
      {
        scope: "connectors:write",
        params: TokenId,
        detail: {
          summary: "Rotate a relay token: a new secret (shown once); the old one stops working at once",
          tags: ["relay"],
          responses: responses({ 200: CreatedRelayToken }),
        },
      },
    )
    .delete(
      "/v1/relay-tokens/:id",
      async ({ caller, params, set }) => {
        await caller.tenant((tx) => revokeRelayToken(tx, caller.actor, params.id));
        set.status = 204;
        return null;
      },
      {
        scope: "connectors:write",
        params: TokenId,
        detail: {
          summary: "Revoke a relay token: its connectors stop at once, its connection is closed at its next beat",
          tags: ["relay"],
          responses: responses({ 204: null }),
        },
      },
    )
    .get(
      "/v1/relays",
      ({ caller, query }) => caller.tenant((tx) => listRelays(tx, caller.principal.workspaceId, query)),
      {
        scope: "connectors:read",
        query: t.Object(PageQuery),
        detail: {
          summary:
            "The relays' connections, newest first (connected or not, version, databases offered, last heartbeat)",
          tags: ["relay"],
          responses: responses({ 200: RelayPage }),
        },
      },
    )
    .post(
      "/v1/connectors/:id/query",
      ({ caller, params, body }) => runRelayQuery(caller.tenant, hub, caller.actor, params.id, body),
      {
        scope: "db:query",
        params: idOf("con", "connector"),
        body: RelayQueryBody,
        detail: {
          summary: "Run a read-only query through the relay offering this connector's database (masked rows)",
          description:
            "The relay checks the query against its own policy, runs it read-only and masks personal data before the result leaves the customer's network. A refusal is 422 query_refused with the relay's reason; a disconnected relay 503 relay_unavailable; no answer in time 504 relay_timeout.",
          tags: ["relay"],
          responses: responses({ 200: RelayQueryResult }, [409, 504]),
        },
      },
    )
    .get(
      "/v1/relay-queries/:id",
      ({ caller, params }) => caller.tenant((tx) => getRelayQuery(tx, caller.principal.workspaceId, params.id)),
      {
        scope: "db:query",
        params: idOf("rlq", "relay query"),
        detail: {
          summary: "A query's record (outcome, fingerprint, rows, duration) and its masked result if it was stored",
          tags: ["relay"],
          responses: responses({ 200: RelayQueryRecord }),
        },
      },
    );
}
