import { expect, test } from "bun:test";
import { ID_PATTERN, idTime, newId } from "../../src/ids.ts";

test("ids are prefixed, 26 lowercase Crockford characters, and sort by creation time", () => {
  const a = newId("iss", 1_700_000_000_000);
  const b = newId("iss", 1_700_000_000_001);
  expect(a).toMatch(/^iss_[0-9a-hjkmnp-tv-z]{26}$/);
  expect(ID_PATTERN.test(a)).toBe(true);
  expect(a < b).toBe(true);
  expect(idTime(a)).toBe(1_700_000_000_000);
});

test("ids made in the same millisecond differ", () => {
  const ids = new Set(Array.from({ length: 1000 }, () => newId("org", 42)));
  expect(ids.size).toBe(1000);
});
