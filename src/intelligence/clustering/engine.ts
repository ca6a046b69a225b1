// The clustering engine of one workspace stream: assigns each event's message to a cluster of "the same
// problem" and keeps each cluster's template (`Connection to <*> timed out after <*>`).
//
// Precision first: a message joins a cluster only when every token fits the cluster's template. Variables are
// masked up front (mask.ts); a word position becomes a variable only on evidence: a masked variable was seen
// there, or `variableAfter` different words were seen there among clusters identical everywhere else (never
// the first word, which usually names the event, nor words that say what happened: siblings.ts). A new
// template covering older, more specific ones takes them over. Assignment costs a signature lookup or a scan
// of the clusters sharing the message's length and first word, never the history.
import { WILDCARD, maskedTokens } from "./mask.ts";
import { fitsAll, fitsMessage, generalize, matchesCorrection, specificity } from "./template.ts";
import { SiblingIndex } from "./siblings.ts";
import { type Cluster, addTo, constantCount, earliest, latest, shapeOf, view } from "./cluster.ts";
import { SNAPSHOT_VERSION, type ClusterSnapshot, type EngineSnapshot, type PinSnapshot } from "./snapshot.ts";

export type ClusterEngineOptions = {
  /** New cluster ids (the app passes its `clu_` id generator); a counter `c1`, `c2`… by default. */
  newId?: () => string;
  /** Different words seen at one position, clusters otherwise identical, before it counts as a variable. */
  variableAfter?: number;
};

/** What an engineer sees of a cluster (and what the snapshot saves of it). */
export type ClusterView = ClusterSnapshot;

export type Assignment = {
  clusterId: string;
  template: string;
  isNew: boolean;
  /** The template gained a variable with this event. */
  templateChanged: boolean;
  /** Clusters merged into `clusterId` by this event: their events now belong to it. */
  absorbed: string[];
  /** The event matched an engineer's pin rather than the engine's own decision. */
  pinned: boolean;
};

const DEFAULT_VARIABLE_AFTER = 4;
/** Constant words a new template must keep to take over the clusters it covers. */
const MIN_CONSTANTS_TO_COVER = 2;
const SIGNATURE_CACHE_LIMIT = 50_000;

export class ClusterEngine {
  private readonly clusters = new Map<string, Cluster>();
  private readonly byShape = new Map<string, Set<Cluster>>();
  private readonly byLength = new Map<number, Set<Cluster>>();
  private readonly aliases = new Map<string, string>();
  private readonly signatures = new Map<string, string>();
  private readonly siblings = new SiblingIndex();
  private readonly messagePins = new Map<string, string>();
  private readonly templatePins: { tokens: string[]; clusterId: string }[] = [];
  private readonly variableAfter: number;
  private readonly externalId: (() => string) | undefined;
  private counter = 0;

  constructor(options: ClusterEngineOptions = {}) {
    this.variableAfter = options.variableAfter ?? DEFAULT_VARIABLE_AFTER;
    this.externalId = options.newId;
  }

  /** Assigns one event's message; `at` (epoch ms) updates the cluster's first and last seen. */
  assign(message: string, opts: { at?: number } = {}): Assignment {
    const pinnedId = this.messagePins.get(message);
    const tokens = maskedTokens(message);
    const pinned = pinnedId ?? this.matchTemplatePin(message, tokens);
    if (pinned !== undefined) return this.record(this.mustGet(pinned), opts.at, { pinned: true });
    const signature = tokens.join(" ");
    const cached = this.signatures.get(signature);
    if (cached !== undefined) return this.record(this.mustGet(cached), opts.at);
    const found = this.bestFit(tokens);
    if (found) {
      this.remember(signature, found.id);
      return this.record(found, opts.at);
    }
    const cluster = this.create(tokens, false);
    const { target, absorbed } = this.generalizeFrom(cluster);
    this.remember(signature, target.id);
    return this.record(target, opts.at, {
      isNew: target === cluster,
      templateChanged: absorbed.length > 0,
      absorbed,
    });
  }

  /** The cluster an id now stands for (after merges). */
  resolve(id: string): string {
    let current = id;
    for (let next = this.aliases.get(current); next !== undefined; next = this.aliases.get(current)) current = next;
    return current;
  }

  get(id: string): ClusterView | undefined {
    const cluster = this.clusters.get(this.resolve(id));
    return cluster && view(cluster);
  }

  list(): ClusterView[] {
    return [...this.clusters.values()].map(view);
  }

  /** Engineer's correction: `from` is the same problem as `into`; later events like `from`'s go to `into`. */
  merge(into: string, from: string): ClusterView {
    const target = this.mustGet(into);
    const source = this.mustGet(from);
    if (target === source) return view(target);
    this.templatePins.push({ tokens: source.tokens, clusterId: target.id });
    this.keepApart(target);
    this.absorb(target, source);
    return view(target);
  }

  /** Whether `message` is caught by a correction (what to re-point among stored events after split or pin). */
  caughtBy(messageOrTemplate: string, message: string): boolean {
    return matchesCorrection(messageOrTemplate, message, maskedTokens(message));
  }

  /** Engineer's correction: events matching `messageOrTemplate` are a problem of their own, from now on. */
  split(messageOrTemplate: string): ClusterView {
    // A message split off keeps its words: only that very message (or pins added later) lands there.
    const cluster = this.create(messageOrTemplate.trim().split(/\s+/), true);
    this.pin(messageOrTemplate, cluster.id);
    return view(cluster);
  }

  /** Engineer's correction: events matching `messageOrTemplate` (a message, or a template with `<*>`) go to the cluster. */
  pin(messageOrTemplate: string, clusterId: string): void {
    const cluster = this.mustGet(clusterId);
    this.keepApart(cluster);
    if (messageOrTemplate.includes(WILDCARD)) {
      this.templatePins.push({ tokens: messageOrTemplate.trim().split(/\s+/), clusterId: cluster.id });
    } else this.messagePins.set(messageOrTemplate, cluster.id);
    this.signatures.clear();
  }

  snapshot(): EngineSnapshot {
    const pins: PinSnapshot[] = [
      ...[...this.messagePins].map(([message, clusterId]) => ({ message, clusterId })),
      ...this.templatePins.map(({ tokens, clusterId }) => ({ template: tokens.join(" "), clusterId })),
    ];
    const clusters = [...this.clusters.values()].map(view);
    return {
      version: SNAPSHOT_VERSION,
      variableAfter: this.variableAfter,
      counter: this.counter,
      clusters,
      aliases: [...this.aliases],
      pins,
    };
  }

  /** An engine resumed from `snapshot()`; ids keep coming from `options.newId` (or the saved counter). */
  static restore(snapshot: EngineSnapshot, options: Omit<ClusterEngineOptions, "variableAfter"> = {}): ClusterEngine {
    if (snapshot.version !== SNAPSHOT_VERSION)
      throw new Error(`unsupported cluster snapshot version ${snapshot.version}`);
    const engine = new ClusterEngine({ ...options, variableAfter: snapshot.variableAfter });
    engine.counter = snapshot.counter;
    for (const saved of snapshot.clusters) {
      const cluster: Cluster = { ...saved, tokens: saved.template === "" ? [] : saved.template.split(" ") };
      engine.index(cluster);
    }
    for (const [from, to] of snapshot.aliases) engine.aliases.set(from, to);
    for (const pin of snapshot.pins) {
      if ("message" in pin) engine.messagePins.set(pin.message, pin.clusterId);
      else engine.templatePins.push({ tokens: pin.template.split(" "), clusterId: pin.clusterId });
    }
    return engine;
  }

  /** A cluster an engineer corrected is never merged by the engine again. */
  private keepApart(cluster: Cluster): void {
    cluster.pinned = true;
    this.siblings.remove(cluster.id);
  }

  private nextId(): string {
    if (this.externalId) return this.externalId();
    this.counter++;
    return `c${this.counter}`;
  }

  private mustGet(id: string): Cluster {
    const cluster = this.clusters.get(this.resolve(id));
    if (!cluster) throw new Error(`no cluster ${id}`);
    return cluster;
  }

  private remember(signature: string, id: string): void {
    if (this.signatures.size >= SIGNATURE_CACHE_LIMIT) this.signatures.clear();
    this.signatures.set(signature, id);
  }

  /** The most specific template pin the message fits; among equally specific ones, the latest correction. */
  private matchTemplatePin(message: string, tokens: readonly string[]): string | undefined {
    let best: { clusterId: string; score: number } | undefined;
    for (const pin of this.templatePins) {
      if (!fitsMessage(pin.tokens, message, tokens)) continue;
      const score = specificity(pin.tokens);
      if (!best || score >= best.score) best = { clusterId: pin.clusterId, score };
    }
    return best?.clusterId;
  }

  private bestFit(tokens: readonly string[]): Cluster | undefined {
    let best: Cluster | undefined;
    let bestScore = -1;
    for (const shape of new Set([shapeOf(tokens), shapeOf(tokens, WILDCARD)])) {
      for (const cluster of this.byShape.get(shape) ?? []) {
        if (!fitsAll(cluster.tokens, tokens)) continue;
        const score = specificity(cluster.tokens);
        // A template of variables only says nothing about words: it takes only its own shape.
        if (score === 0 && cluster.tokens.some((token, i) => token !== tokens[i])) continue;
        if (score > bestScore) (best = cluster), (bestScore = score);
      }
    }
    return best;
  }

  private create(tokens: string[], pinned: boolean): Cluster {
    const cluster: Cluster = { id: this.nextId(), tokens, count: 0, firstSeen: null, lastSeen: null, pinned };
    this.index(cluster);
    return cluster;
  }

  // The signature cache memoizes bestFit for the current set of clusters; any change to that set clears it,
  // which keeps a restored engine (whose cache starts empty) assigning exactly like the one that never stopped.
  private index(cluster: Cluster): void {
    this.signatures.clear();
    this.clusters.set(cluster.id, cluster);
    addTo(this.byShape, shapeOf(cluster.tokens), cluster);
    addTo(this.byLength, cluster.tokens.length, cluster);
    if (!cluster.pinned) this.siblings.add(cluster.id, cluster.tokens);
  }

  private unindex(cluster: Cluster): void {
    this.signatures.clear();
    this.clusters.delete(cluster.id);
    this.byShape.get(shapeOf(cluster.tokens))?.delete(cluster);
    this.byLength.get(cluster.tokens.length)?.delete(cluster);
    this.siblings.remove(cluster.id);
  }

  private absorb(target: Cluster, source: Cluster): void {
    this.unindex(source);
    this.aliases.set(source.id, target.id);
    target.count += source.count;
    target.firstSeen = earliest(target.firstSeen, source.firstSeen);
    target.lastSeen = latest(target.lastSeen, source.lastSeen);
  }

  /** Merges the clusters that the new cluster shows to be one problem; returns where the new cluster went. */
  private generalizeFrom(start: Cluster): { target: Cluster; absorbed: string[] } {
    let current = start;
    const absorbed: string[] = [];
    const covered = this.coveredBy(start.tokens);
    if (covered.length > 0) current = this.combine([start, ...covered], start.tokens, absorbed);
    for (;;) {
      const group = this.siblings.mergeable(current.id, this.variableAfter);
      if (!group) break;
      const members = group.ids.map((id) => this.mustGet(id));
      const tokens = [...current.tokens];
      tokens[group.position] = generalize(members.map((member) => member.tokens[group.position] as string));
      current = this.combine(members, tokens, absorbed);
    }
    // The caller never saw the new cluster's id when another one took it over at once.
    return { target: current, absorbed: absorbed.filter((id) => id !== current.id && id !== start.id) };
  }

  /** Clusters that a new, more general template covers: a masked variable where they had words. */
  private coveredBy(tokens: readonly string[]): Cluster[] {
    if (constantCount(tokens) < MIN_CONSTANTS_TO_COVER) return [];
    return [
      ...(this.byShape.get(shapeOf(tokens)) ?? []),
      ...(this.byShape.get(shapeOf(tokens, WILDCARD)) ?? []),
    ].filter((other) => !other.pinned && other.tokens !== tokens && fitsAll(tokens, other.tokens));
  }

  /** One cluster (the one with most events keeps its id) with `tokens` as template, and every cluster it covers. */
  private combine(members: Cluster[], tokens: string[], absorbed: string[]): Cluster {
    const target = members.reduce((a, b) => (b.count > a.count ? b : a));
    this.unindex(target);
    target.tokens = tokens;
    for (const member of members) if (member !== target) this.absorbInto(target, member, absorbed);
    for (const other of [...(this.byLength.get(tokens.length) ?? [])])
      if (!other.pinned && fitsAll(tokens, other.tokens)) this.absorbInto(target, other, absorbed);
    this.index(target);
    return target;
  }

  private absorbInto(target: Cluster, member: Cluster, absorbed: string[]): void {
    this.absorb(target, member);
    absorbed.push(member.id);
  }

  private record(cluster: Cluster, at: number | undefined, extra: Partial<Assignment> = {}): Assignment {
    cluster.count++;
    if (at !== undefined) {
      cluster.firstSeen = earliest(cluster.firstSeen, at);
      cluster.lastSeen = latest(cluster.lastSeen, at);
    }
    return {
      clusterId: cluster.id,
      template: cluster.tokens.join(" "),
      isNew: false,
      templateChanged: false,
      absorbed: [],
      pinned: false,
      ...extra,
    };
  }
}
