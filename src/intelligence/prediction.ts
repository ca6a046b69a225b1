// When will a cluster's problem happen again? From the times it occurred, recognize its rhythm (a fixed
// period, a time of day, a weekday, bursts) and predict the window of its next occurrence with a confidence:
// the share of the cluster's own history that such a window would have caught. Pure: no clock, no I/O.
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;

export type Recurrence = "periodic" | "time-of-day" | "weekday" | "bursty" | "irregular";

export type Prediction = {
  pattern: Recurrence;
  /** Epoch ms, inclusive. */
  from: number;
  to: number;
  /** 0..1: how often a window like this caught the next occurrence in the cluster's own history. */
  confidence: number;
  /** One line for an engineer: "every ~5 min", "daily around 03:00 UTC", "in bursts". */
  explanation: string;
};

export type PredictionOptions = {
  /** Occurrences looked at, most recent first (older ones are forgotten). */
  history?: number;
  /** Share of past inter-arrival gaps the window aims to cover. */
  coverage?: number;
  /** Narrowest window, in ms (the timestamps' resolution). */
  minWidth?: number;
};

const DEFAULTS: Required<PredictionOptions> = { history: 64, coverage: 0.5, minWidth: 1000 };

/** The shortest interval holding `share` of the sorted values: where the next one is most likely. */
export function densestInterval(sorted: readonly number[], share: number): [number, number] {
  const k = Math.max(1, Math.ceil(share * sorted.length));
  let best: [number, number] = [sorted[0] ?? 0, sorted[k - 1] ?? 0];
  for (let i = 0; i + k - 1 < sorted.length; i++) {
    const low = sorted[i] as number;
    const high = sorted[i + k - 1] as number;
    if (high - low < best[1] - best[0]) best = [low, high];
  }
  return best;
}

function gapsOf(times: readonly number[]): number[] {
  const gaps: number[] = [];
  for (let i = 1; i < times.length; i++) gaps.push((times[i] as number) - (times[i - 1] as number));
  return gaps;
}

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(values.length, 1);
}

function spread(values: readonly number[]): number {
  const m = mean(values);
  return Math.sqrt(mean(values.map((value) => (value - m) ** 2)));
}

/** Mean position and spread of times on a cycle (time of day, time of week), in ms. */
function onCycle(times: readonly number[], cycle: number): { at: number; spread: number } {
  const angles = times.map((time) => ((time % cycle) / cycle) * 2 * Math.PI);
  const x = mean(angles.map(Math.cos));
  const y = mean(angles.map(Math.sin));
  const at = ((((Math.atan2(y, x) / (2 * Math.PI)) * cycle) % cycle) + cycle) % cycle;
  const length = Math.min(1, Math.hypot(x, y));
  const circular = length > 0 ? Math.sqrt(-2 * Math.log(length)) : Math.PI;
  return { at, spread: (circular / (2 * Math.PI)) * cycle };
}

function clock(ms: number): string {
  const date = new Date(ms);
  return `${String(date.getUTCHours()).padStart(2, "0")}:${String(date.getUTCMinutes()).padStart(2, "0")} UTC`;
}

function duration(ms: number): string {
  if (ms < MINUTE) return `${Math.round(ms / 1000)} s`;
  if (ms < HOUR) return `${Math.round(ms / MINUTE)} min`;
  if (ms < DAY) return `${Math.round(ms / HOUR)} h`;
  return `${Math.round(ms / DAY)} d`;
}

type Window = { from: number; to: number };

/** A calendar rhythm (daily, weekly): events on enough distinct cycles, close together on the cycle. */
function calendar(times: readonly number[], cycle: number, last: number): (Window & { spread: number }) | undefined {
  const cycles = new Set(times.map((time) => Math.floor(time / cycle)));
  const spanned = Math.floor(last / cycle) - Math.floor((times[0] as number) / cycle) + 1;
  // On most of the days (weeks) it spans, and not many times a day (week).
  if (cycles.size < 3 || cycles.size * 2 < spanned || times.length > cycles.size * 3) return undefined;
  const { at, spread: width } = onCycle(times, cycle);
  if (width > cycle / 48) return undefined;
  let next = Math.floor(last / cycle) * cycle + at;
  while (next - 2 * width <= last) next += cycle;
  return { from: next - 2 * width, to: next + 2 * width, spread: width };
}

type Guess = Window & { pattern: Recurrence; explanation: string };

function guess(times: readonly number[], coverage: number, minWidth: number): Guess {
  const last = times.at(-1) as number;
  for (const [cycle, pattern] of [
    [DAY, "time-of-day"],
    [WEEK, "weekday"],
  ] as const) {
    const rhythm = calendar(times, cycle, last);
    if (!rhythm) continue;
    const day = pattern === "weekday" ? `${new Date(rhythm.from).toUTCString().slice(0, 3)}s ` : "daily ";
    const to = Math.max(rhythm.to, rhythm.from + minWidth);
    return { pattern, from: rhythm.from, to, explanation: `${day}around ${clock((rhythm.from + rhythm.to) / 2)}` };
  }
  const gaps = gapsOf(times);
  let [low, high] = densestInterval(
    [...gaps].sort((a, b) => a - b),
    coverage,
  );
  if (high - low < minWidth) high = low + minWidth;
  const average = mean(gaps);
  const variation = average > 0 ? spread(gaps) / average : 0;
  const pattern: Recurrence = variation < 0.25 ? "periodic" : variation > 1 && high < average ? "bursty" : "irregular";
  const explanation =
    pattern === "periodic"
      ? `every ~${duration(average)}`
      : pattern === "bursty"
        ? `in bursts: usually again within ${duration(high)}`
        : `irregular: usually ${duration(low)}-${duration(high)} apart`;
  return { pattern, from: last + low, to: last + high, explanation };
}

/** The next occurrence's window, from past occurrence times (epoch ms, any order); undefined below 3. The
 * confidence replays the same rule on the history's own prefixes: the share of next occurrences it caught,
 * shrunk towards 0 while the history is short. */
export function predictNext(occurrences: readonly number[], options: PredictionOptions = {}): Prediction | undefined {
  const { history, coverage, minWidth } = { ...DEFAULTS, ...options };
  const times = [...occurrences].sort((a, b) => a - b).slice(-history);
  if (times.length < 3) return undefined;
  let hits = 0;
  let tries = 0;
  for (let end = 3; end < times.length; end++) {
    const past = guess(times.slice(0, end), coverage, minWidth);
    const next = times[end] as number;
    tries++;
    if (next >= past.from && next <= past.to) hits++;
  }
  const confidence = tries === 0 ? 0 : (hits / tries) * (tries / (tries + 4));
  return { ...guess(times, coverage, minWidth), confidence };
}

/** The naive forecast the predictor is measured against: the mean gap after the last occurrence, ± half of `width`. */
export function naiveWindow(occurrences: readonly number[], width: number): Window | undefined {
  const times = [...occurrences].sort((a, b) => a - b);
  if (times.length < 2) return undefined;
  const last = times.at(-1) as number;
  const center = last + mean(gapsOf(times));
  return { from: center - width / 2, to: center + width / 2 };
}
