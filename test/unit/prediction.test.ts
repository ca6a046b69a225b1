import { expect, test } from "bun:test";
import { naiveWindow, predictNext } from "../../src/intelligence/prediction.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const MONDAY = Date.UTC(2026, 0, 5);

test("a problem that recurs every five minutes is predicted five minutes after the last, with high confidence", () => {
  const times = Array.from({ length: 20 }, (_, i) => i * 5 * MINUTE + (i % 3) * 1000);
  const prediction = predictNext(times);
  const next = 20 * 5 * MINUTE + 2000;
  expect(prediction?.pattern).toBe("periodic");
  expect(prediction?.explanation).toBe("every ~5 min");
  expect(prediction && next >= prediction.from && next <= prediction.to).toBe(true);
  expect(prediction?.confidence).toBeGreaterThan(0.5);
});

test("a nightly job's failure is predicted for the next night around the same time", () => {
  const times = Array.from({ length: 10 }, (_, day) => MONDAY + day * DAY + 3 * HOUR + (day % 4) * MINUTE);
  const prediction = predictNext(times);
  expect(prediction?.pattern).toBe("time-of-day");
  expect(prediction?.explanation).toBe("daily around 03:01 UTC");
  const nextNight = MONDAY + 10 * DAY + 3 * HOUR + MINUTE;
  expect(prediction && nextNight >= prediction.from && nextNight <= prediction.to).toBe(true);
});

test("a Monday-morning problem is predicted for next Monday morning", () => {
  const times = Array.from({ length: 5 }, (_, week) => MONDAY + week * 7 * DAY + 9 * HOUR + week * MINUTE);
  const prediction = predictNext(times);
  expect(prediction?.pattern).toBe("weekday");
  expect(prediction?.explanation).toStartWith("Mons around 09:0");
  const nextMonday = MONDAY + 5 * 7 * DAY + 9 * HOUR + 2 * MINUTE;
  expect(prediction && nextMonday >= prediction.from && nextMonday <= prediction.to).toBe(true);
});

test("a problem that comes in bursts is expected again right away, where the naive mean gap looks too far", () => {
  const times: number[] = [];
  for (let burst = 0; burst < 6; burst++) for (let i = 0; i < 8; i++) times.push(burst * 6 * HOUR + i * 2000);
  const prediction = predictNext(times);
  expect(prediction?.pattern).toBe("bursty");
  const last = times.at(-1) as number;
  expect(prediction?.from).toBe(last + 2000);
  const naive = naiveWindow(times, (prediction?.to ?? 0) - (prediction?.from ?? 0));
  expect(naive && last + 2000 >= naive.from && last + 2000 <= naive.to).toBe(false);
});

test("no prediction from fewer than three occurrences", () => {
  expect(predictNext([])).toBeUndefined();
  expect(predictNext([1, 2])).toBeUndefined();
});
