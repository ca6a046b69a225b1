// Grouping accuracy as in the log-parsing literature (Zhu et al., ICSE-SEIP 2019): the fraction of lines whose
// predicted group holds exactly the same set of lines as their ground-truth group.

function groupsOf(labels: readonly string[]): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  labels.forEach((label, line) => {
    const group = groups.get(label);
    if (group) group.push(line);
    else groups.set(label, [line]);
  });
  return groups;
}

/** Fraction (0..1) of lines grouped exactly as the truth groups them; both arrays are indexed by line. */
export function groupingAccuracy(predicted: readonly string[], truth: readonly string[]): number {
  if (predicted.length !== truth.length) throw new Error("predicted and truth must label the same lines");
  if (truth.length === 0) return 1;
  const predictedGroups = groupsOf(predicted);
  let correct = 0;
  for (const lines of groupsOf(truth).values()) {
    const first = lines[0] as number;
    const predictedGroup = predictedGroups.get(predicted[first] as string) ?? [];
    const same = predictedGroup.length === lines.length && lines.every((line) => predicted[line] === predicted[first]);
    if (same) correct += lines.length;
  }
  return correct / truth.length;
}

/** Truth groups that the prediction splits or merges, largest first (for explaining a score). */
export function wrongGroups(
  predicted: readonly string[],
  truth: readonly string[],
): { truth: string; lines: number[] }[] {
  const predictedGroups = groupsOf(predicted);
  const wrong: { truth: string; lines: number[] }[] = [];
  for (const [label, lines] of groupsOf(truth)) {
    const first = lines[0] as number;
    const predictedGroup = predictedGroups.get(predicted[first] as string) ?? [];
    const same = predictedGroup.length === lines.length && lines.every((line) => predicted[line] === predicted[first]);
    if (!same) wrong.push({ truth: label, lines });
  }
  return wrong.sort((a, b) => b.lines.length - a.lines.length);
}
