// Appending to the audit trail, always inside the transaction of the change it records. The event is queued
// there and chained right after that transaction commits (src/audit/sequencer.ts, migration 0043).
import type { Queryable, Tx } from "../db/engine.ts";
import { flushAudit } from "./sequencer.ts";

export type ActorType = "user" | "token" | "service_account" | "operator" | "system";

export interface RequestContext {
  traceId?: string;
  ip?: string;
  userAgent?: string;
}

/** Who acts, in which workspace, from which request: what every audited service call is given. */
export interface Actor {
  workspaceId: string;
  actorId: string;
  actorType: ActorType;
  context: RequestContext;
}

export interface AuditEntry {
  workspaceId: string;
  action: string;
  actorId: string | null;
  actorType: ActorType;
  targetType?: string;
  targetId?: string;
  before?: unknown;
  after?: unknown;
  context?: RequestContext;
}

const SECRET_KEYS = /(secret|password|token|_encrypted|hash|recovery)/i;

/** Removes every secret-looking member before a payload enters the audit trail. */
export function withoutSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSecrets);
  if (value && typeof value === "object" && !(value instanceof Date)) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([k]) => !SECRET_KEYS.test(k))
        .map(([k, v]) => [k, withoutSecrets(v)]),
    );
  }
  return value;
}

export async function appendAudit(tx: Queryable, entry: AuditEntry): Promise<string> {
  const json = (v: unknown) => (v === undefined ? null : JSON.stringify(withoutSecrets(v)));
  const [row] = await tx.query<{ id: string }>(
    "select audit_append($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10::inet, $11) as id",
    [
      entry.workspaceId,
      entry.action,
      entry.actorId,
      entry.actorType,
      entry.targetType ?? null,
      entry.targetId ?? null,
      json(entry.before),
      json(entry.after),
      entry.context?.traceId ?? null,
      entry.context?.ip ?? null,
      entry.context?.userAgent?.slice(0, 512) ?? null,
    ],
  );
  (tx as Partial<Tx>).afterCommit?.(`audit:${entry.workspaceId}`, (engine) => flushAudit(engine, entry.workspaceId));
  return row?.id as string;
}

/** The audit row of what `actor` did to a target: the actor's workspace, identity and request recorded with it. */
export function auditActor(
  tx: Queryable,
  actor: Actor,
  action: string,
  targetType: string,
  targetId: string,
  after?: unknown,
  before?: unknown,
): Promise<string> {
  return appendAudit(tx, {
    workspaceId: actor.workspaceId,
    action,
    actorId: actor.actorId,
    actorType: actor.actorType,
    targetType,
    targetId,
    after,
    before,
    context: actor.context,
  });
}
