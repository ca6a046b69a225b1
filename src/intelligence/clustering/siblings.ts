// Clusters identical but for one position, indexed by that position: the evidence that the position holds a
// variable. Each cluster is filed once per position, under its other tokens.
import { WILDCARD } from "./mask.ts";
import { fits } from "./template.ts";

type Entry = { key: string; position: number; value: string };

/** Constant words the other positions must keep before `variableAfter` different words make a variable. */
const MIN_CONSTANTS_FOR_COUNT = 2;
/** … and before one masked variable among words does. */
const MIN_CONSTANTS_FOR_FIT = 1;
const MAX_TOKENS = 100;

// Words that say what happened (`Started`, `Paused`, `closing`): a position holding them names the event.
const ACTION = /^[A-Za-z]{3,}(?:ed|ing)$/;

function mostlyActions(values: Iterable<string>): boolean {
  let actions = 0;
  let all = 0;
  for (const value of values) {
    all++;
    if (ACTION.test(value)) actions++;
  }
  return actions * 2 >= all;
}

function constantsBesides(tokens: readonly string[], position: number): number {
  let n = 0;
  tokens.forEach((token, i) => {
    if (i !== position && !token.includes(WILDCARD)) n++;
  });
  return n;
}

export class SiblingIndex {
  private readonly groups = new Map<string, Map<string, string>>();
  private readonly entries = new Map<string, Entry[]>();
  private readonly constants = new Map<string, number[]>();

  add(id: string, tokens: readonly string[]): void {
    const entries: Entry[] = [];
    // Filing costs the square of the length: longer messages (dumps, traces) merge only by fitting templates.
    if (tokens.length > MAX_TOKENS) return;
    tokens.forEach((value, position) => {
      const rest = tokens.slice(0, position).concat(tokens.slice(position + 1));
      const key = `${tokens.length}\u0001${position}\u0001${rest.join("\u0002")}`;
      const group = this.groups.get(key) ?? new Map<string, string>();
      this.groups.set(key, group);
      if (!group.has(value)) group.set(value, id);
      entries.push({ key, position, value });
    });
    this.entries.set(id, entries);
    this.constants.set(
      id,
      tokens.map((_, position) => constantsBesides(tokens, position)),
    );
  }

  remove(id: string): void {
    for (const { key, value } of this.entries.get(id) ?? []) {
      const group = this.groups.get(key);
      if (group?.get(value) === id) group.delete(value);
      if (group?.size === 0) this.groups.delete(key);
    }
    this.entries.delete(id);
    this.constants.delete(id);
  }

  /** A position of `id` that the evidence makes a variable, with the clusters it merges. */
  mergeable(id: string, variableAfter: number): { position: number; ids: string[] } | undefined {
    const constants = this.constants.get(id) ?? [];
    for (const { key, position, value } of this.entries.get(id) ?? []) {
      const group = this.groups.get(key);
      if (!group || group.size < 2) continue;
      const kept = constants[position] ?? 0;
      if (
        position > 0 &&
        group.size >= variableAfter &&
        kept >= MIN_CONSTANTS_FOR_COUNT &&
        !mostlyActions(group.keys())
      )
        return { position, ids: [...group.values()] };
      if (kept < MIN_CONSTANTS_FOR_FIT) continue;
      const fitting = [...group].filter(([other]) => other !== value && (fits(other, value) || fits(value, other)));
      if (fitting.length > 0) return { position, ids: [id, ...fitting.map(([, other]) => other)] };
    }
    return undefined;
  }
}
