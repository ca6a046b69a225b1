// Backtest of the recurrence predictor (src/intelligence/prediction.ts) on Loghub's timestamps: each
// `*_structured.csv` in <dir> is clustered by the production engine, then each cluster's occurrences are
// replayed in time order; before each occurrence (from the fourth on) the predictor names a window from the
// ones before it. Baseline in the same run: the naive forecast (last occurrence + mean gap) with a window of
// the same width. A hit is an occurrence inside its window.
//   bun scripts/bench/prediction-backtest.ts <dir>
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { naiveWindow, predictNext, type Recurrence } from "../../src/intelligence/prediction.ts";
import { clusterLines } from "./clustering.ts";
import { readLoghub, timestampOf } from "./loghub.ts";

type Score = {
  predictions: number;
  hits: number;
  naiveHits: number;
  widths: number[];
  patterns: Map<Recurrence, number>;
};

/** Occurrence times per cluster, in time order. */
function streams(dir: string, name: string): number[][] {
  const lines = readLoghub(join(dir, name));
  const { predicted } = clusterLines(lines);
  const byCluster = new Map<string, number[]>();
  lines.forEach((line, i) => {
    const at = timestampOf(line.row);
    if (at === undefined) return;
    const cluster = predicted[i] as string;
    byCluster.set(cluster, [...(byCluster.get(cluster) ?? []), at]);
  });
  return [...byCluster.values()].map((times) => times.sort((a, b) => a - b));
}

export function backtest(clusters: readonly number[][]): Score {
  const score: Score = { predictions: 0, hits: 0, naiveHits: 0, widths: [], patterns: new Map() };
  for (const times of clusters) {
    for (let seen = 3; seen < times.length; seen++) {
      const past = times.slice(0, seen);
      const next = times[seen] as number;
      const prediction = predictNext(past);
      if (!prediction) continue;
      const width = prediction.to - prediction.from;
      const naive = naiveWindow(past, width);
      score.predictions++;
      score.widths.push(width);
      score.patterns.set(prediction.pattern, (score.patterns.get(prediction.pattern) ?? 0) + 1);
      if (next >= prediction.from && next <= prediction.to) score.hits++;
      if (naive && next >= naive.from && next <= naive.to) score.naiveHits++;
    }
  }
  return score;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function line(label: string, score: Score): string {
  const rate = (hits: number) => (score.predictions === 0 ? 0 : hits / score.predictions);
  const ratio = score.naiveHits === 0 ? "inf" : (score.hits / score.naiveHits).toFixed(2);
  const patterns = [...score.patterns].map(([pattern, n]) => `${pattern}:${n}`).join(",");
  return `${label} predictions=${score.predictions} hit=${rate(score.hits).toFixed(3)} naive=${rate(score.naiveHits).toFixed(3)} ratio=${ratio} median_width_s=${(median(score.widths) / 1000).toFixed(0)} patterns=${patterns}`;
}

if (import.meta.main) {
  const dir = process.argv[2];
  if (!dir) throw new Error("usage: bun scripts/bench/prediction-backtest.ts <dir>");
  const total: Score = { predictions: 0, hits: 0, naiveHits: 0, widths: [], patterns: new Map() };
  for (const name of readdirSync(dir)
    .filter((file) => file.endsWith("_structured.csv"))
    .sort()) {
    const score = backtest(streams(dir, name));
    console.log(line(name, score));
    total.predictions += score.predictions;
    total.hits += score.hits;
    total.naiveHits += score.naiveHits;
    total.widths.push(...score.widths);
    for (const [pattern, n] of score.patterns) total.patterns.set(pattern, (total.patterns.get(pattern) ?? 0) + n);
  }
  console.log(line("all", total));
}
