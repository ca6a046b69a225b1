// Grouping accuracy of the production clustering engine on labeled Loghub samples (issue 20): each
// `*_structured.csv` in <dir> is one workspace stream, fed in LineId order; the engine sees only `Content`.
//   bun scripts/bench/clustering.ts <dir> [--explain <file name part>] [--baseline]
// --baseline also times masking alone (tokenize and mask each message, no clustering) on the same lines in the
// same run, and prints the engine's cost as a ratio to it.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { ClusterEngine, maskedTokens } from "../../src/intelligence/clustering.ts";
import { groupingAccuracy, wrongGroups } from "../../src/intelligence/grouping-accuracy.ts";
import { type LoghubLine, readLoghub } from "./loghub.ts";

/** Each line's final cluster (after the merges later lines caused), and the time the engine took. */
export function clusterLines(lines: readonly LoghubLine[]): { predicted: string[]; seconds: number } {
  const engine = new ClusterEngine();
  const started = performance.now();
  const assigned = lines.map((line) => engine.assign(line.content).clusterId);
  const seconds = (performance.now() - started) / 1000;
  return { predicted: assigned.map((id) => engine.resolve(id)), seconds };
}

function maskingSeconds(lines: readonly LoghubLine[]): number {
  const started = performance.now();
  for (const line of lines) maskedTokens(line.content);
  return (performance.now() - started) / 1000;
}

function explain(lines: readonly LoghubLine[], predicted: readonly string[]): void {
  const truth = lines.map((line) => line.eventId);
  for (const group of wrongGroups(predicted, truth)) {
    const first = lines[group.lines[0] as number] as LoghubLine;
    console.log(`  truth ${group.truth} (${group.lines.length} lines): ${first.template}`);
    const byCluster = new Map<string, number[]>();
    for (const line of group.lines)
      byCluster.set(predicted[line] as string, [...(byCluster.get(predicted[line] as string) ?? []), line]);
    for (const [cluster, members] of byCluster) {
      const strangers = predicted.filter((id, i) => id === cluster && truth[i] !== group.truth).length;
      const sample = lines[members[0] as number]?.content;
      console.log(
        `    ${cluster}: ${members.length} lines${strangers ? ` + ${strangers} of other groups` : ""}  e.g. ${sample}`,
      );
    }
  }
}

if (import.meta.main) {
  const dir = process.argv[2];
  if (!dir) throw new Error("usage: bun scripts/bench/clustering.ts <dir> [--explain <file>]");
  const explainIndex = process.argv.indexOf("--explain");
  const explainFile = explainIndex > 0 ? process.argv[explainIndex + 1] : undefined;
  const files = readdirSync(dir)
    .filter((name) => name.endsWith("_structured.csv"))
    .sort();
  let total = 0;
  for (const name of files) {
    const lines = readLoghub(join(dir, name));
    const { predicted, seconds } = clusterLines(lines);
    const accuracy = groupingAccuracy(
      predicted,
      lines.map((line) => line.eventId),
    );
    total += accuracy;
    const clusters = new Set(predicted).size;
    const truth = new Set(lines.map((line) => line.eventId)).size;
    const eps = Math.round(lines.length / seconds);
    console.log(`${name} GA=${accuracy.toFixed(3)} clusters=${clusters} truth=${truth} eps=${eps}`);
    if (process.argv.includes("--baseline")) {
      const baseline = maskingSeconds(lines);
      console.log(
        `  baseline masking-only eps=${Math.round(lines.length / baseline)} engine/baseline time=${(seconds / baseline).toFixed(2)}x`,
      );
    }
    if (explainFile && name.includes(explainFile)) explain(lines, predicted);
  }
  console.log(`average GA=${(total / Math.max(files.length, 1)).toFixed(3)}`);
}
