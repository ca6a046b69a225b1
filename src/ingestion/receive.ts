// POST /v1/hooks/{path_token}, behind the route: the path token names its workspace (like an access token,
// clp_hook_<workspace>_<secret>_<checksum>), so the request enters that workspace's door and looks the token up
// by its hash there. The signature is checked against the raw body with the webhook's signing secret (opened
// inside the door) before the body is parsed; a refused request stores no event, and counts as a failure of
// the webhook's connector (three in a row turn it to 'error'); the first valid event turns it 'active'.
import { AppError, isAppError } from "../errors.ts";
import type { Tx } from "../db/engine.ts";
import type { TenantDoor } from "../db/tenant.ts";
import { parseToken } from "../identity/tokens.ts";
import { SecretBox } from "../secrets/envelope.ts";
import type { KekProvider } from "../secrets/keyring.ts";
import { adapterFor, isSource } from "./adapters/index.ts";
import type { NormalizedEvent } from "./event.ts";
import type { RequestContext } from "../audit/service.ts";
import { ingestEvent, type Ingested } from "./service.ts";
import { verifySignature, type Verdict } from "./signatures.ts";

/** Failures in a row after which a connector shows 'error'. */
export const FAILURES_BEFORE_ERROR = 3;

export interface Received {
  accepted: number;
  duplicates: number;
  events: Ingested[];
}

interface HookRow {
  id: string;
  source: string;
  status: string;
  connector_id: string | null;
  connector_status: string | null;
  signing_secret_encrypted: string;
  ws_deleted_at: Date | null;
}

const REFUSED: Record<Exclude<Verdict, { ok: true }>["reason"], string> = {
  missing: "the request carries no signature (x-causeloop-signature, Standard Webhooks or the vendor's own)",
  invalid: "the request's signature does not match this webhook's signing secret",
  stale: "the request's signature timestamp is more than 5 minutes away from the server's time (replay refused)",
};

async function failed(tx: Tx, workspaceId: string, hook: HookRow, reason: string): Promise<void> {
  if (!hook.connector_id) return;
  await tx.query(
    `update connectors set failure_count = failure_count + 1, last_error = $3,
            status = case when status <> 'disabled' and failure_count + 1 >= $4 then 'error' else status end
      where workspace_id = $1 and id = $2`,
    [workspaceId, hook.connector_id, reason.slice(0, 500), FAILURES_BEFORE_ERROR],
  );
}

/** Marks the hook and its connector alive; at most every 10 s once active, so busy hooks do not queue on one row. */
async function succeeded(tx: Tx, workspaceId: string, hook: HookRow): Promise<void> {
  await tx.query(
    `update inbound_webhooks set last_received_at = now()
      where workspace_id = $1 and id = $2 and (last_received_at is null or last_received_at < now() - interval '10 seconds')`,
    [workspaceId, hook.id],
  );
  if (!hook.connector_id) return;
  await tx.query(
    `update connectors set status = case when status = 'disabled' then status else 'active' end, failure_count = 0,
            last_error = null, last_synced_at = now()
      where workspace_id = $1 and id = $2
        and (status in ('pending', 'error') or failure_count > 0 or last_synced_at is null or last_synced_at < now() - interval '10 seconds')`,
    [workspaceId, hook.connector_id],
  );
}

type Outcome = { received: Received } | { refused: AppError };

export async function receiveHook(
  door: TenantDoor,
  kek: KekProvider,
  pathToken: string,
  headers: Headers,
  body: string,
  options: {
    now?: number;
    admit?: (workspaceId: string, credentialId: string) => Promise<void>;
    /** The request, as the audit rows of what its events change record it. */
    context?: RequestContext;
  } = {},
): Promise<Received> {
  const parsed = parseToken("hook", pathToken);
  if (!parsed) throw new AppError("not_found", "no inbound webhook at this URL");
  // The path token is the credential its rate limit is counted against (never the token itself: its hash).
  await options.admit?.(parsed.workspaceId, `hook:${parsed.hash.slice(0, 32)}`);
  const now = options.now ?? Date.now();
  const outcome = await door<Outcome>(parsed.workspaceId, async (tx) => {
    const [hook] = await tx.query<HookRow>(
      `select h.id, h.source, h.status, h.connector_id, h.signing_secret_encrypted, w.deleted_at as ws_deleted_at,
              c.status as connector_status
         from inbound_webhooks h join workspaces w on w.id = h.workspace_id
         left join connectors c on c.workspace_id = h.workspace_id and c.id = h.connector_id
        where h.workspace_id = $1 and h.path_token_hash = $2 and h.deleted_at is null`,
      [parsed.workspaceId, parsed.hash],
    );
    // A disabled connector's URL receives nothing until it is enabled again.
    if (hook?.status !== "active" || hook.connector_status === "disabled" || !isSource(hook.source))
      return { refused: new AppError("not_found", "no inbound webhook at this URL") };
    if (hook.ws_deleted_at) return { refused: new AppError("workspace_disabled", "this workspace is disabled") };
    const secret = await new SecretBox(tx, kek, parsed.workspaceId).open(
      { table: "inbound_webhooks", column: "signing_secret_encrypted", rowId: hook.id },
      hook.signing_secret_encrypted,
    );
    const verdict = verifySignature(hook.source, headers, body, secret, now);
    if (!verdict.ok) {
      await failed(tx, parsed.workspaceId, hook, `signature ${verdict.reason}`);
      return { refused: new AppError("unauthorized", REFUSED[verdict.reason]) };
    }
    let events: NormalizedEvent[];
    try {
      events = adapterFor(hook.source)({ body: JSON.parse(body), headers });
    } catch (error) {
      if (!isAppError(error) && !(error instanceof SyntaxError)) throw error;
      const refused = isAppError(error) ? error : new AppError("invalid_json", "the request body is not valid JSON");
      await failed(tx, parsed.workspaceId, hook, refused.message);
      return { refused };
    }
    const results: Ingested[] = [];
    for (const event of events)
      results.push(
        await ingestEvent(
          tx,
          { workspaceId: parsed.workspaceId, inboundWebhookId: hook.id, context: options.context },
          event,
        ),
      );
    await succeeded(tx, parsed.workspaceId, hook);
    const duplicates = results.filter((r) => r.duplicate).length;
    return { received: { accepted: results.length - duplicates, duplicates, events: results } };
  });
  if ("refused" in outcome) throw outcome.refused;
  return outcome.received;
}
