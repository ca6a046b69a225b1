// Idempotency-Key (draft-ietf-httpapi-idempotency-key-header) on every POST and PATCH that carries a
// credential: the first request runs and its answer is kept (sealed with the workspace's key, 24 h by
// default); the same key again with the same request replays that answer with `Idempotent-Replayed: true`;
// the same key with another request is 422; while the first is still running, 409. Keys are scoped to the
// workspace and the credential (a sha256 of the bearer token): another token never sees or collides with them.
// The key is optional: without it a request simply runs. Answers that changed nothing (401, 403, 429, 5xx) are
// not kept, so the client can retry with the same key.
//
// The workspace comes from the token itself (a PAT names it, a session JWT's `ws` claim): a forged token only
// ever reaches rows keyed by its own hash, and the answer is kept only once the route has authenticated it.
import type { TenantDoor } from "../../db/tenant.ts";
import { AppError } from "../../errors.ts";
import { sha256Hex } from "../../identity/tokens.ts";
import { credentialWorkspace } from "../../identity/auth.ts";
import type { KekProvider } from "../../secrets/keyring.ts";
import {
  beginIdempotent,
  forgetIdempotent,
  keepIdempotent,
  type IdempotencyScope,
  type KeptAnswer,
} from "../../tenancy/idempotency.ts";

const KEY = /^[\x21-\x7e]{1,255}$/;

export interface IdempotencyDeps {
  door: TenantDoor;
  kek: KekProvider;
  ttlHours: number;
}

/** Wraps `run` (the rest of the request's handling) with Idempotency-Key semantics when the request has one. */
export async function withIdempotency(
  deps: IdempotencyDeps,
  request: Request,
  body: string | undefined,
  run: () => Promise<Response>,
): Promise<Response> {
  const key = request.headers.get("idempotency-key");
  if (key === null || (request.method !== "POST" && request.method !== "PATCH")) return run();
  const authorization = request.headers.get("authorization");
  const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? "")?.[1];
  const workspaceId = credentialWorkspace(authorization);
  // Without a credential naming a workspace (sign-in routes, a missing token) the key does not apply.
  if (!bearer || !workspaceId || !/^ws_[0-9a-z]{26}$/.test(workspaceId)) return run();
  if (!KEY.test(key))
    throw new AppError("validation_failed", "Idempotency-Key must be 1 to 255 printable ASCII characters");
  const url = new URL(request.url);
  const scope: IdempotencyScope = {
    workspaceId,
    credentialHash: sha256Hex(bearer),
    key,
    fingerprint: sha256Hex(`${request.method}\n${url.pathname}${url.search}\n${body ?? ""}`),
  };
  const began = await deps.door(workspaceId, (tx) => beginIdempotent(tx, deps.kek, scope, deps.ttlHours));
  if (began.replay) return replay(began.replay);
  let response: Response;
  try {
    response = await run();
  } catch (error) {
    await deps.door(workspaceId, (tx) => forgetIdempotent(tx, workspaceId, began.id));
    throw error;
  }
  const status = response.status;
  if (status === 401 || status === 403 || status === 429 || status >= 500) {
    await deps.door(workspaceId, (tx) => forgetIdempotent(tx, workspaceId, began.id));
    return response;
  }
  const text = await response.text();
  const answer: KeptAnswer = {
    status,
    type: response.headers.get("content-type"),
    location: response.headers.get("location"),
    body: text,
  };
  await deps.door(workspaceId, (tx) => keepIdempotent(tx, deps.kek, workspaceId, began.id, answer));
  return new Response(text, { status, headers: response.headers });
}

function replay(answer: KeptAnswer): Response {
  const headers = new Headers({ "idempotent-replayed": "true" });
  if (answer.type) headers.set("content-type", answer.type);
  if (answer.location) headers.set("location", answer.location);
  return new Response(answer.status === 204 ? null : answer.body, { status: answer.status, headers });
}
