// An export of one workspace's audit trail that an auditor verifies offline with
// scripts/verify-audit-export.ts: NDJSON lines {"type":"key"}, {"type":"checkpoint"}, {"type":"row"}, with
// every field in the text form the canonical encoding uses.
import { createWriteStream } from "node:fs";
import type { Engine } from "../db/engine.ts";
import { withTenant } from "../db/tenant.ts";
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
