// The audit hash chain, canonical encoding v1 (the same as the SQL function audit_canonical()):
//   'causeloop.audit.v1' then, per field in this order, '\n' and '-' for NULL or '<utf-8 byte length>:<value>':
//   workspace_id, id, seq, action, actor_id, actor_type, target_type, target_id, before, after, trace_id, ip,
//   user_agent, created_at        (before/after: PostgreSQL's jsonb text; ip: host(ip); created_at: UTC
//   'YYYY-MM-DDTHH:MM:SS.ffffffZ')
//   hash = sha256_hex((prev_hash ?? '') + canonical)
// Checkpoint signature (Ed25519, base64url) over:
//   'causeloop.audit.checkpoint.v1\n' + workspace_id + '\n' + seq + '\n' + hash + '\n' + signed_at

export interface ChainRow {
  workspace_id: string;
  id: string;
  seq: number;
  action: string;
  actor_id: string | null;
  actor_type: string;
  target_type: string | null;
  target_id: string | null;
  before: string | null;
  after: string | null;
  trace_id: string | null;
  ip: string | null;
  user_agent: string | null;
  created_at: string;
  prev_hash: string | null;
  hash: string | null;
}

export interface Checkpoint {
  seq: number;
  hash: string;
  key_id: string;
  signature: string;
  signed_at: string;
}

const field = (value: string | null) => (value === null ? "-" : `${Buffer.byteLength(value, "utf8")}:${value}`);

export function canonical(row: ChainRow): string {
  return [
    "causeloop.audit.v1",
    ...[
      row.workspace_id,
      row.id,
      String(row.seq),
      row.action,
      row.actor_id,
      row.actor_type,
      row.target_type,
      row.target_id,
      row.before,
      row.after,
      row.trace_id,
      row.ip,
      row.user_agent,
      row.created_at,
    ].map(field),
  ].join("\n");
}

export function rowHash(prevHash: string | null, row: ChainRow): string {
  return new Bun.CryptoHasher("sha256").update((prevHash ?? "") + canonical(row)).digest("hex");
}

export function checkpointPayload(workspaceId: string, seq: number, hash: string, signedAt: string): string {
  return `causeloop.audit.checkpoint.v1\n${workspaceId}\n${seq}\n${hash}\n${signedAt}`;
}

export interface VerifyResult {
  ok: boolean;
  workspace_id: string;
  rows: number;
  first_seq: number | null;
  last_seq: number | null;
  checkpoints: number;
  last_checkpoint_seq: number | null;
  first_broken_seq: number | null;
  reason: string | null;
}

/**
 * Incremental verifier: feed rows in seq order (in batches), then finish() with the checkpoints.
 * The first problem found is the one reported.
 */
export class ChainVerifier {
  private prevSeq: number | null = null;
  private prevHash: string | null = null;
  private firstSeq: number | null = null;
  private count = 0;
  private broken: { seq: number; reason: string } | null = null;
  private readonly hashes = new Map<number, string>();
  private firstPrevHash: string | null = null;

  constructor(
    readonly workspaceId: string,
    /** Remember row hashes only at these seqs (the checkpoints), to keep memory flat on long chains. */
    private readonly checkpointSeqs: ReadonlySet<number>,
  ) {}

  private fail(seq: number, reason: string): void {
    this.broken ??= { seq, reason };
  }

  push(row: ChainRow): void {
    this.count++;
    if (this.broken) return;
    if (row.workspace_id !== this.workspaceId) return this.fail(row.seq, `row ${row.id} belongs to another workspace`);
    if (this.prevSeq === null) {
      this.firstSeq = row.seq;
      this.firstPrevHash = row.prev_hash;
      if (row.seq === 1 && row.prev_hash !== null)
        return this.fail(row.seq, "the first row must have no previous hash");
    } else if (row.seq !== this.prevSeq + 1) {
      return this.fail(
        this.prevSeq + 1,
        row.seq > this.prevSeq + 1
          ? `row ${this.prevSeq + 1} is missing`
          : `row ${row.seq} is out of order or duplicated`,
      );
    } else if (row.prev_hash !== this.prevHash) {
      return this.fail(row.seq, "previous-hash link does not match the row before it");
    }
    const expected = rowHash(row.prev_hash, row);
    if (row.hash !== expected) return this.fail(row.seq, "row content does not match its hash (altered)");
    if (this.checkpointSeqs.has(row.seq)) this.hashes.set(row.seq, row.hash);
    this.prevSeq = row.seq;
    this.prevHash = row.hash;
  }

  async finish(
    checkpoints: Checkpoint[],
    verifySignature: (payload: string, signature: string, keyId: string) => Promise<boolean>,
  ): Promise<VerifyResult> {
    const sorted = [...checkpoints].sort((a, b) => a.seq - b.seq);
    for (const cp of sorted) {
      if (
        !(await verifySignature(
          checkpointPayload(this.workspaceId, cp.seq, cp.hash, cp.signed_at),
          cp.signature,
          cp.key_id,
        ))
      ) {
        this.fail(cp.seq, `checkpoint at seq ${cp.seq} has an invalid signature`);
        continue;
      }
      if (this.prevSeq !== null && cp.seq > this.prevSeq)
        this.fail(
          this.prevSeq + 1,
          `rows after seq ${this.prevSeq} are missing (a signed checkpoint covers seq ${cp.seq})`,
        );
      else if (this.firstSeq !== null && cp.seq === this.firstSeq - 1) {
        if (cp.hash !== this.firstPrevHash)
          this.fail(this.firstSeq, "the oldest row does not link to its signed checkpoint");
      } else if (this.hashes.has(cp.seq) && this.hashes.get(cp.seq) !== cp.hash) {
        this.fail(cp.seq, `row ${cp.seq} differs from its signed checkpoint`);
      }
    }
    if (this.firstSeq !== null && this.firstSeq > 1 && !sorted.some((cp) => cp.seq === (this.firstSeq as number) - 1)) {
      this.fail(
        this.firstSeq,
        `rows before seq ${this.firstSeq} are gone and no signed checkpoint anchors the chain there`,
      );
    }
    if (this.firstSeq === null && sorted.length > 0)
      this.fail(1, "the audit trail is empty but signed checkpoints exist");
    return {
      ok: this.broken === null,
      workspace_id: this.workspaceId,
      rows: this.count,
      first_seq: this.firstSeq,
      last_seq: this.prevSeq,
      checkpoints: sorted.length,
      last_checkpoint_seq: sorted.at(-1)?.seq ?? null,
      first_broken_seq: this.broken?.seq ?? null,
      reason: this.broken?.reason ?? null,
    };
  }
}
