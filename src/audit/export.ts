// An export of one workspace's audit trail that an auditor or the customer verifies offline
// (src/audit/verify-export.ts: `causeloop audit verify-export`): NDJSON lines {"type":"key"},
// {"type":"checkpoint"}, {"type":"row"}, with every field in the text form the canonical encoding uses. The
// operator writes it to a file; the customer streams it from GET /v1/audit/export.
import { createWriteStream } from "node:fs";
import type { Engine, Tx } from "../db/engine.ts";
import { withTenant, type TenantDoor } from "../db/tenant.ts";
import { appendAudit, type Actor } from "./service.ts";
import { AppError } from "../errors.ts";
import type { ChainRow } from "./chain.ts";
import { CHAIN_COLUMNS, readCheckpoints } from "./trail.ts";
import type { Signer } from "./signing.ts";

export async function exportAudit(
  engine: Engine,
  signer: Signer,
  workspaceId: string,
  out: string,
): Promise<{ file: string; rows: number; checkpoints: number }> {
  const exists = await engine.query("select 1 from workspaces where id = $1", [workspaceId]);
  if (!exists[0]) throw new AppError("not_found", `workspace ${workspaceId} not found`);
  const stream = createWriteStream(out, { mode: 0o600 });
  const write = (value: unknown) =>
    new Promise<void>((resolve, reject) =>
      stream.write(`${JSON.stringify(value)}\n`, (error) => (error ? reject(error) : resolve())),
    );
  let rows = 0;
  let checkpoints = 0;
  await withTenant(engine, workspaceId, async (tx) => {
    await write({ type: "key", workspace_id: workspaceId, jwk: signer.publicJwk });
    for (const cp of await readCheckpoints(tx, workspaceId)) {
      await write({ type: "checkpoint", ...cp });
      checkpoints++;
    }
    let after = -1;
    for (;;) {
      const batch = await tx.query<ChainRow>(
        `select ${CHAIN_COLUMNS} from audit_log where workspace_id = $1 and seq > $2 order by seq limit 5000`,
        [workspaceId, after],
      );
      for (const row of batch) await write({ type: "row", ...row });
      rows += batch.length;
      if (batch.length < 5000) break;
      after = (batch.at(-1) as ChainRow).seq;
    }
  });
  await new Promise<void>((resolve, reject) =>
    stream.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
  return { file: out, rows, checkpoints };
}

const BATCH = 1000;

/**
 * The customer's export as a stream: the export itself is audited and the head fixed first (one tenant
 * transaction); then the rows up to that head, a batch per transaction, so a long trail never holds a
 * connection for the whole download. The trail is append-only, so batches read apart are one consistent
 * prefix of it.
 */
export async function streamAuditExport(
  /** The request's own tenant transaction (a GET's held one), for the opening step. */
  open: <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>,
  /** The door for the batches, read after the request's transaction has ended. */
  door: TenantDoor,
  signer: Signer,
  actor: Actor,
): Promise<ReadableStream<Uint8Array>> {
  const ws = actor.workspaceId;
  const { head, checkpoints } = await open(async (tx) => {
    await appendAudit(tx, {
      workspaceId: ws,
      action: "audit.exported",
      actorId: actor.actorId,
      actorType: actor.actorType,
      targetType: "audit_log",
      context: actor.context,
    });
    const [row] = await tx.query<{ head: number | null }>(
      "select max(seq)::int as head from audit_log where workspace_id = $1",
      [ws],
    );
    return { head: row?.head ?? 0, checkpoints: await readCheckpoints(tx, ws) };
  });
  const encoder = new TextEncoder();
  const lines = (items: unknown[]) => encoder.encode(items.map((item) => `${JSON.stringify(item)}\n`).join(""));
  let after = -1;
  let started = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!started) {
        started = true;
        controller.enqueue(
          lines([
            { type: "key", workspace_id: ws, key_id: signer.keyId, jwk: signer.publicJwk },
            ...checkpoints.filter((cp) => cp.seq <= head).map((cp) => ({ type: "checkpoint", ...cp })),
          ]),
        );
        return;
      }
      const batch = await door(ws, (tx) =>
        tx.query<ChainRow>(
          `select ${CHAIN_COLUMNS} from audit_log where workspace_id = $1 and seq > $2 and seq <= $3 order by seq limit ${BATCH}`,
          [ws, after, head],
        ),
      );
      if (batch.length > 0) {
        controller.enqueue(lines(batch.map((row) => ({ type: "row", ...row }))));
        after = (batch.at(-1) as ChainRow).seq;
      }
      if (batch.length < BATCH) controller.close();
    },
  });
}
