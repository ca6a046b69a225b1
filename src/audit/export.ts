// An export of one workspace's audit trail that an auditor or the customer verifies offline
// (src/audit/verify-export.ts: `causeloop audit verify-export`): NDJSON lines {"type":"key"},
// {"type":"checkpoint"}, {"type":"row"}, with every field in the text form the canonical encoding uses. The
// operator writes it to a file; the customer streams it from GET /v1/audit/export.
import { createWriteStream } from "node:fs";
import type { Engine, Tx } from "../db/engine.ts";
import { tenantDoor, withTenant, type TenantDoor } from "../db/tenant.ts";
import { appendAudit, type Actor } from "./service.ts";
import { AppError } from "../errors.ts";
import type { ChainRow, Checkpoint } from "./chain.ts";
import { CHAIN_COLUMNS, readCheckpoints } from "./trail.ts";
import type { Signer } from "./signing.ts";

const BATCH = 1000;

interface ExportChunk {
  text: string;
  rows: number;
  checkpoints: number;
}

/** The trail's head and signed checkpoints, read in one transaction before any row is. */
async function headOf(tx: Tx, ws: string): Promise<{ head: number; checkpoints: Checkpoint[] }> {
  const [row] = await tx.query<{ head: number | null }>(
    "select max(seq)::int as head from audit_log where workspace_id = $1",
    [ws],
  );
  const head = row?.head ?? 0;
  return { head, checkpoints: (await readCheckpoints(tx, ws)).filter((cp) => cp.seq <= head) };
}

/**
 * The export's lines, chunk by chunk: the key and the checkpoints, then the rows up to `head`, a batch per
 * transaction through `door`, so a long trail never holds a connection for the whole export. The trail is
 * append-only, so batches read apart are one consistent prefix of it.
 */
async function* exportChunks(
  door: TenantDoor,
  signer: Signer,
  ws: string,
  start: () => Promise<{ head: number; checkpoints: Checkpoint[] }>,
): AsyncGenerator<ExportChunk> {
  const { head, checkpoints } = await start();
  const lines = (items: unknown[]) => items.map((item) => `${JSON.stringify(item)}\n`).join("");
  yield {
    text: lines([
      {
        type: "key",
        workspace_id: ws,
        key_id: signer.keyId,
        jwk: signer.publicJwk,
        exported_at: new Date().toISOString(),
      },
      ...checkpoints.map((cp) => ({ type: "checkpoint", ...cp })),
    ]),
    rows: 0,
    checkpoints: checkpoints.length,
  };
  let after = -1;
  for (;;) {
    const batch = await door(ws, (tx) =>
      tx.query<ChainRow>(
        `select ${CHAIN_COLUMNS} from audit_log where workspace_id = $1 and seq > $2 and seq <= $3 order by seq limit ${BATCH}`,
        [ws, after, head],
      ),
    );
    if (batch.length > 0)
      yield { text: lines(batch.map((row) => ({ type: "row", ...row }))), rows: batch.length, checkpoints: 0 };
    if (batch.length < BATCH) return;
    after = (batch.at(-1) as ChainRow).seq;
  }
}

/** The operator's export of a workspace's trail to a file (mode 0600). */
export async function exportAudit(
  engine: Engine,
  signer: Signer,
  workspaceId: string,
  out: string,
): Promise<{ file: string; rows: number; checkpoints: number }> {
  const exists = await engine.query("select 1 from workspaces where id = $1", [workspaceId]);
  if (!exists[0]) throw new AppError("not_found", `workspace ${workspaceId} not found`);
  const start = await withTenant(engine, workspaceId, (tx) => headOf(tx, workspaceId));
  const stream = createWriteStream(out, { mode: 0o600 });
  let rows = 0;
  let checkpoints = 0;
  for await (const chunk of exportChunks(tenantDoor(engine), signer, workspaceId, async () => start)) {
    await new Promise<void>((resolve, reject) =>
      stream.write(chunk.text, (error) => (error ? reject(error) : resolve())),
    );
    rows += chunk.rows;
    checkpoints += chunk.checkpoints;
  }
  await new Promise<void>((resolve, reject) =>
    stream.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
  return { file: out, rows, checkpoints };
}

/**
 * The customer's export as a stream: the export itself is audited in the request's own tenant transaction (a
 * GET's held one); the head is fixed and the rows follow through `door` once that transaction has committed,
 * so its own `audit.exported` event is chained (src/audit/sequencer.ts) and is the newest row it covers.
 */
export async function streamAuditExport(
  open: <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>,
  door: TenantDoor,
  signer: Signer,
  actor: Actor,
): Promise<ReadableStream<Uint8Array>> {
  const ws = actor.workspaceId;
  await open((tx) =>
    appendAudit(tx, {
      workspaceId: ws,
      action: "audit.exported",
      actorId: actor.actorId,
      actorType: actor.actorType,
      targetType: "audit_log",
      context: actor.context,
    }),
  );
  const chunks = exportChunks(door, signer, ws, () => door(ws, (tx) => headOf(tx, ws)));
  const encoder = new TextEncoder();
  // highWaterMark 0: nothing is pulled before the answer is read, which is after the request's transaction has
  // committed (a default stream would pull its first chunk, the head, at once).
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = await chunks.next();
        if (next.done) controller.close();
        else controller.enqueue(encoder.encode(next.value.text));
      },
    },
    { highWaterMark: 0 },
  );
}
