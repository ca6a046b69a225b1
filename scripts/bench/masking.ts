// Precision and recall of the relay's PII detection on the synthetic labeled corpus (masking-corpus.ts), and
// the cost of masking as a ratio to serializing the same rows in the same run.
//   bun scripts/bench/masking.ts [docs] [seed]
// A prediction is a true positive when it overlaps a labeled span of the same kind; a labeled span no
// prediction of its kind overlaps is a false negative. Exits 1 when a kind misses precision ≥ 0.95 or
// recall ≥ 0.9.
import { ENTITY_KINDS, createMasker } from "../../src/relay/masking/index.ts";
import type { EntityKind, Span } from "../../src/relay/masking/index.ts";
import { buildCorpus } from "./masking-corpus.ts";
import { PROBES } from "./masking-probes.ts";

const docs = Number(process.argv[2] ?? 1200);
const seed = Number(process.argv[3] ?? 20261207);
const verbose = process.env.MASKING_BENCH_VERBOSE === "1";
const corpus = buildCorpus(docs, seed);
const masker = createMasker({}, new Uint8Array(32).fill(1));

interface Tally {
  labeled: number;
  predicted: number;
  tp: number;
  fp: number;
  fn: number;
}
const tally = new Map<EntityKind, Tally>(
  ENTITY_KINDS.map((k) => [k, { labeled: 0, predicted: 0, tp: 0, fp: 0, fn: 0 }]),
);
const fpByNegative = new Map<string, number>();
const overlaps = (a: { start: number; end: number }, b: { start: number; end: number }) =>
  a.start < b.end && b.start < a.end;

for (const doc of corpus) {
  const predicted: Span[] = masker.detect(doc.text);
  for (const label of doc.entities) {
    const t = tally.get(label.kind) as Tally;
    t.labeled++;
    if (predicted.some((p) => p.kind === label.kind && overlaps(p, label))) t.tp++;
    else {
      t.fn++;
      if (verbose) console.log(`FN ${label.kind}: ${doc.text.slice(label.start, label.end)}  | ${doc.text}`);
    }
  }
  for (const p of predicted) {
    const t = tally.get(p.kind) as Tally;
    t.predicted++;
    if (doc.entities.some((l) => l.kind === p.kind && overlaps(p, l))) continue;
    t.fp++;
    const neg = doc.negatives.find((n) => overlaps(p, n));
    const key = neg ? neg.type : "unlabeled text";
    fpByNegative.set(key, (fpByNegative.get(key) ?? 0) + 1);
    if (verbose) console.log(`FP ${p.kind} (${key}): ${doc.text.slice(p.start, p.end)}  | ${doc.text}`);
  }
}

const fmt = (x: number) => (Number.isNaN(x) ? "-" : x.toFixed(3));
const rows: string[][] = [];
let failed = false;
const total: Tally = { labeled: 0, predicted: 0, tp: 0, fp: 0, fn: 0 };
for (const [kind, t] of tally) {
  const precision = t.tp / (t.tp + t.fp);
  const recall = t.tp / t.labeled;
  if (!(precision >= 0.95 && recall >= 0.9)) failed = true;
  for (const k of Object.keys(total) as Array<keyof Tally>) total[k] += t[k];
  rows.push([kind, t.labeled, t.predicted, t.tp, t.fp, t.fn, fmt(precision), fmt(recall)].map(String));
}
rows.push(
  [
    "all",
    total.labeled,
    total.predicted,
    total.tp,
    total.fp,
    total.fn,
    fmt(total.tp / (total.tp + total.fp)),
    fmt(total.tp / total.labeled),
  ].map(String),
);

const negatives = corpus.reduce((n, d) => n + d.negatives.length, 0);
console.log(
  `corpus: ${corpus.length} documents (synthetic, seed ${seed}), ${total.labeled} labeled entities, ${negatives} hard negatives`,
);
console.log("| kind | labeled | predicted | TP | FP | FN | precision | recall |");
console.log("|---|---|---|---|---|---|---|---|");
for (const r of rows) console.log(`| ${r.join(" | ")} |`);
if (fpByNegative.size > 0)
  console.log(`false positives by what they hit: ${[...fpByNegative].map(([k, v]) => `${k} ${v}`).join(", ")}`);

// Hand-written probes, reported apart: found / missed / false alarms, with what was missed.
const probeMisses: string[] = [];
const probeFalse: string[] = [];
let probeFound = 0;
for (const [text, kind, value] of PROBES) {
  const span = { start: text.indexOf(value), end: text.indexOf(value) + value.length };
  const hits = masker.detect(text).filter((p) => overlaps(p, span));
  if (kind === null) {
    if (hits.length > 0) probeFalse.push(`${value} (as ${hits.map((h) => h.kind).join(", ")})`);
  } else if (hits.some((h) => h.kind === kind)) probeFound++;
  else probeMisses.push(`${kind} "${value}"`);
}
const probePositives = PROBES.filter(([, kind]) => kind !== null).length;
console.log(
  `hand-written probes: ${probeFound}/${probePositives} found; missed: ${probeMisses.join("; ") || "none"}; ` +
    `false alarms on ${PROBES.length - probePositives} negatives: ${probeFalse.join("; ") || "none"}`,
);

// Throughput: maskRows over the corpus as rows (id, body, a JSON document), against JSON.stringify of the same
// rows; best of 5 rounds each, interleaved.
const columns = ["id", "body", "doc"];
const rowsIn: unknown[][] = corpus.map((d, i) => [i, d.text, { source: d.source, nested: { note: d.text } }]);
const cells = rowsIn.length * columns.length;
let maskBest = Number.POSITIVE_INFINITY;
let jsonBest = Number.POSITIVE_INFINITY;
for (let round = 0; round < 5; round++) {
  let t0 = performance.now();
  JSON.stringify(rowsIn);
  jsonBest = Math.min(jsonBest, performance.now() - t0);
  t0 = performance.now();
  masker.maskRows(columns, rowsIn);
  maskBest = Math.min(maskBest, performance.now() - t0);
}
console.log(
  `throughput: maskRows ${Math.round(cells / (maskBest / 1000)).toLocaleString("en")} cells/s (${maskBest.toFixed(1)} ms for ${cells} cells); ` +
    `JSON.stringify of the same rows ${jsonBest.toFixed(2)} ms; ratio ${(maskBest / jsonBest).toFixed(0)}x the serialization`,
);
if (failed) {
  console.log("a kind misses the goal (precision ≥ 0.95, recall ≥ 0.9)");
  process.exit(1);
}
