// Anchors: copies of signed checkpoints kept OUTSIDE the database, so that an owner who rewrites history
// (recomputing every hash), deletes the tail and forges new rows, or deletes checkpoints with the rows they
// covered, is still caught: `audit verify` compares the database against every anchor. The first store is an
// append-only file in the state directory (one JSON line per checkpoint signed); the evidence issue adds
// customer-held anchors behind the same interface.
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Checkpoint } from "./chain.ts";

export interface Anchor extends Checkpoint {
  /** The workspace id, or "operator" for the operator log. */
  stream: string;
}

export interface AnchorStore {
  /** Where the anchors live, for messages. */
  readonly location: string;
  append(anchor: Anchor): void;
  /** Every anchor recorded, oldest first; lines that are not anchors are reported, never skipped silently. */
  read(): { anchors: Anchor[]; unreadable: number };
}

function isAnchor(value: unknown): value is Anchor {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.stream === "string" &&
    typeof v.seq === "number" &&
    typeof v.hash === "string" &&
    typeof v.key_id === "string" &&
    typeof v.signature === "string" &&
    typeof v.signed_at === "string"
  );
}

/** The anchor file: appended with O_APPEND (mode 0600), never rewritten. */
export function fileAnchorStore(path: string): AnchorStore {
  return {
    location: path,
    append(anchor) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      const line = JSON.stringify({
        stream: anchor.stream,
        seq: anchor.seq,
        hash: anchor.hash,
        key_id: anchor.key_id,
        signature: anchor.signature,
        signed_at: anchor.signed_at,
      });
      appendFileSync(path, `${line}\n`, { mode: 0o600, flag: "a" });
      chmodSync(path, 0o600);
    },
    read() {
      if (!existsSync(path)) return { anchors: [], unreadable: 0 };
      const anchors: Anchor[] = [];
      let unreadable = 0;
      for (const line of readFileSync(path, "utf8").split("\n")) {
        if (!line.trim()) continue;
        try {
          const parsed: unknown = JSON.parse(line);
          if (isAnchor(parsed)) anchors.push(parsed);
          else unreadable++;
        } catch {
          unreadable++;
        }
      }
      return { anchors, unreadable };
    },
  };
}

/** The newest anchor of each stream. */
export function newestAnchors(anchors: Anchor[]): Map<string, Anchor> {
  const newest = new Map<string, Anchor>();
  for (const anchor of anchors) {
    const seen = newest.get(anchor.stream);
    if (!seen || anchor.seq > seen.seq) newest.set(anchor.stream, anchor);
  }
  return newest;
}
