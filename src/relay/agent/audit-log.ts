// The relay's own evidence: an append-only, hash-chained JSON-lines file in the client's network with the same
// facts the server's audit trail gets (who asked, the statement's fingerprint and normalized text, tables,
// rows, masked cells by kind, duration, outcome), so the client can check what was run without trusting us.
// Each line carries the hash of the line before it; `verifyRelayLog` re-computes the chain.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { createHash } from "node:crypto";

export interface RelayLogEntry {
  at: string;
  event: "query" | "connected" | "disconnected" | "started" | "stopped";
  [field: string]: unknown;
}

const GENESIS = "0".repeat(64);
const hashOf = (prev: string, body: string) =>
  createHash("sha256").update(prev).update("\n").update(body).digest("hex");

function lastHash(path: string): string {
  if (!existsSync(path)) return GENESIS;
  const lines = readFileSync(path, "utf8").trimEnd().split("\n").filter(Boolean);
  const last = lines.at(-1);
  if (!last) return GENESIS;
  const parsed = JSON.parse(last) as { hash?: string };
  if (typeof parsed.hash !== "string")
    throw new Error(`${path}: the last line has no hash; the log is not a relay log`);
  return parsed.hash;
}

export class RelayLog {
  private prev: string;
  private readonly fd: number;

  constructor(readonly path: string) {
    this.prev = lastHash(path);
    this.fd = openSync(path, "a", 0o600);
  }

  /** Appends one entry and flushes it to disk before returning. */
  append(entry: Omit<RelayLogEntry, "at"> & { at?: string }): void {
    const body = JSON.stringify({ at: new Date().toISOString(), ...entry, prev: this.prev });
    const hash = hashOf(this.prev, body);
    const line = `${body.slice(0, -1)},"hash":"${hash}"}\n`;
    writeSync(this.fd, line);
    fsyncSync(this.fd);
    this.prev = hash;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Re-computes the chain: the number of entries, or the first line that does not follow from the one before. */
export function verifyRelayLog(
  path: string,
): { ok: true; entries: number } | { ok: false; line: number; reason: string } {
  const lines = readFileSync(path, "utf8").split("\n").filter(Boolean);
  let prev = GENESIS;
  for (const [index, line] of lines.entries()) {
    const at = index + 1;
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return { ok: false, line: at, reason: "not JSON" };
    }
    const { hash, ...rest } = parsed;
    if (rest.prev !== prev) return { ok: false, line: at, reason: "does not follow the line before it" };
    if (hashOf(prev, JSON.stringify(rest)) !== hash)
      return { ok: false, line: at, reason: "its hash does not match its content" };
    prev = hash as string;
  }
  return { ok: true, entries: lines.length };
}
