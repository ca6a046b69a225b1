// Audit streaming: a workspace's trail, in order, to its SIEM (a generic HTTPS JSON collector, or Splunk's
// HTTP Event Collector). A streamer claims a stream (claim_audit_streams: one worker per stream at a time),
// reads the rows after its cursor (the export's row shape: seq, prev_hash, hash, so the receiver can verify
// continuity with the same algorithm as `audit verify-export`), sends one batch and moves the cursor only on a
// 2xx. A failure keeps the cursor: the same batch, with the same id, is sent again later (backoff up to 10
// minutes, never given up: an audit stream that drops events is worse than a late one).
import type { Engine, Tx } from "../db/engine.ts";
import { withTenant } from "../db/tenant.ts";
import type { ChainRow } from "../audit/chain.ts";
import { CHAIN_COLUMNS } from "../audit/trail.ts";
import { newId } from "../ids.ts";
import type { Logger } from "../log.ts";
import { guardedFetch } from "../net/fetch.ts";
import type { OutboundPolicy } from "../net/policy.ts";
import { SecretBox } from "../secrets/envelope.ts";
import type { KekProvider } from "../secrets/keyring.ts";

export type StreamFormat = "json" | "splunk_hec";

interface Stream {
  url: string;
  format: StreamFormat;
  batch_size: number;
  cursor_seq: number;
  failure_count: number;
  token: string | null;
  prev_hash: string | null;
}

/** The request for one batch: its id (the same on every retry) and the body in the stream's format. */
export function batchRequest(
  streamId: string,
  format: StreamFormat,
  rows: ChainRow[],
  prevHash: string | null,
  token: string | null,
): { id: string; headers: Record<string, string>; body: string } {
  const first = (rows[0] as ChainRow).seq;
  const last = (rows.at(-1) as ChainRow).seq;
  const id = `${streamId}:${first}-${last}`;
  if (format === "splunk_hec") {
    // HEC takes concatenated event objects; each carries its chain fields, so continuity is checkable there too.
    const body = rows
      .map((row) =>
        JSON.stringify({
          time: Date.parse(row.created_at) / 1000,
          host: "causeloop",
          source: `causeloop:${row.workspace_id}`,
          sourcetype: "causeloop:audit",
          event: row,
          fields: { batch_id: id },
        }),
      )
      .join("\n");
    return {
      id,
      headers: {
        "content-type": "application/json",
        ...(token ? { authorization: `Splunk ${token}` } : {}),
        "x-causeloop-batch-id": id,
      },
      body,
    };
  }
  const body = JSON.stringify({
    batch_id: id,
    stream_id: streamId,
    workspace_id: (rows[0] as ChainRow).workspace_id,
    first_seq: first,
    last_seq: last,
    prev_hash: prevHash,
    last_hash: (rows.at(-1) as ChainRow).hash,
    events: rows,
  });
  return {
    id,
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      "x-causeloop-batch-id": id,
    },
    body,
  };
}

/** Backoff after n failures in a row: 2, 4, 8 ... seconds, at most 10 minutes. */
export const streamBackoffSeconds = (failures: number) => Math.min(600, 2 ** Math.min(failures, 10));

export class AuditStreamer {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopping = false;
  private current: Promise<unknown> | undefined;
  readonly id = `streamer-${process.pid}-${newId("job").slice(-6)}`;

  constructor(
    private readonly engine: Engine,
    private readonly kek: KekProvider,
    private readonly policy: OutboundPolicy,
    private readonly logger: Logger,
    private readonly options: { pollMs?: number; leaseSeconds?: number; backoff?: (failures: number) => number } = {},
  ) {}

  /** Sends one batch for every stream that has rows to send; returns how many batches were attempted. */
  async drain(): Promise<number> {
    const claimed = await this.engine.query<{ workspace_id: string; id: string }>(
      "select workspace_id, id from claim_audit_streams($1, $2, $3)",
      [this.id, 20, this.options.leaseSeconds ?? 60],
    );
    await Promise.all(claimed.map((s) => this.sendBatch(s.workspace_id, s.id)));
    return claimed.length;
  }

  private async sendBatch(ws: string, streamId: string): Promise<void> {
    const read = await withTenant(this.engine, ws, async (tx) => {
      const stream = await this.stream(tx, ws, streamId);
      if (!stream) return undefined;
      const rows = await tx.query<ChainRow>(
        `select ${CHAIN_COLUMNS} from audit_log where workspace_id = $1 and seq > $2 order by seq limit $3`,
        [ws, stream.cursor_seq, stream.batch_size],
      );
      return { stream, rows };
    });
    if (!read?.rows.length) return this.release(ws, streamId);
    const { stream, rows } = read;
    const request = batchRequest(streamId, stream.format, rows, stream.prev_hash, stream.token);
    let status: number | null = null;
    let error: string | null = null;
    try {
      const response = await guardedFetch(
        stream.url,
        { method: "POST", headers: request.headers, body: request.body, redirect: "manual" },
        this.policy,
      );
      status = response.status;
      if (status < 200 || status >= 300) error = `the collector answered HTTP ${status}`;
    } catch (e) {
      error = (e as Error).message.slice(0, 500);
    }
    const last = (rows.at(-1) as ChainRow).seq;
    await withTenant(this.engine, ws, (tx) =>
      error === null
        ? tx.query(
            `update audit_streams set cursor_seq = $3, failure_count = 0, last_status = $4, last_error = null,
                    last_sent_at = now(), locked_by = null, locked_until = null, next_attempt_at = now()
              where workspace_id = $1 and id = $2 and locked_by = $5 and cursor_seq = $6`,
            [ws, streamId, last, status, this.id, stream.cursor_seq],
          )
        : tx.query(
            `update audit_streams set failure_count = failure_count + 1, last_status = $3, last_error = $4,
                    locked_by = null, locked_until = null, next_attempt_at = now() + make_interval(secs => $5)
              where workspace_id = $1 and id = $2 and locked_by = $6`,
            [
              ws,
              streamId,
              status,
              error,
              (this.options.backoff ?? streamBackoffSeconds)(stream.failure_count + 1),
              this.id,
            ],
          ),
    );
    if (error) this.logger.warn("audit_stream.batch_failed", { stream_id: streamId, batch_id: request.id, error });
  }

  private async stream(tx: Tx, ws: string, streamId: string): Promise<Stream | undefined> {
    const [row] = await tx.query<Omit<Stream, "token" | "prev_hash"> & { token_encrypted: string | null }>(
      `select url, format, batch_size, cursor_seq::float8 as cursor_seq, failure_count, token_encrypted
         from audit_streams where workspace_id = $1 and id = $2 and deleted_at is null and status = 'active'`,
      [ws, streamId],
    );
    if (!row) return undefined;
    const token = row.token_encrypted
      ? await new SecretBox(tx, this.kek, ws).open(
          { table: "audit_streams", column: "token_encrypted", rowId: streamId },
          row.token_encrypted,
        )
      : null;
    const [prev] = row.cursor_seq
      ? await tx.query<{ hash: string }>("select hash from audit_log where workspace_id = $1 and seq = $2", [
          ws,
          row.cursor_seq,
        ])
      : [];
    return { ...row, token, prev_hash: prev?.hash ?? null };
  }

  private async release(ws: string, streamId: string): Promise<void> {
    await withTenant(this.engine, ws, (tx) =>
      tx.query(
        "update audit_streams set locked_by = null, locked_until = null where workspace_id = $1 and id = $2 and locked_by = $3",
        [ws, streamId, this.id],
      ),
    );
  }

  start(): void {
    const tick = async () => {
      if (this.stopping) return;
      let sent = 0;
      this.current = this.drain().then(
        (n) => {
          sent = n;
        },
        (error: Error) => this.logger.error("audit_stream.worker_failed", { error: error.message }),
      );
      await this.current;
      if (!this.stopping) this.timer = setTimeout(tick, sent ? 0 : (this.options.pollMs ?? 1000));
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    await this.current;
  }
}
