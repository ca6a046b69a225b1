// The console's screen state without rendering: one prompt at a time, a finished prompt leaves its message,
// and which key opens which prompt (and that s, p, a, x and h need a selected row).
import { expect, test } from "bun:test";
import { promptReducer, rtbfKey, tenantsKey, type PromptState, type TenantsPrompt } from "../../tui/state/prompt.ts";

test("one prompt at a time; finishing clears it and keeps the message", () => {
  let state: PromptState<TenantsPrompt> = { prompt: undefined, message: undefined };
  state = promptReducer(state, { type: "open", prompt: "purge" });
  expect(state.prompt).toBe("purge");
  state = promptReducer(state, { type: "open", prompt: "soft" });
  expect(state.prompt).toBe("purge"); // a second key does not replace the open prompt
  state = promptReducer(state, { type: "note", message: "Purging ..." });
  expect(state).toEqual({ prompt: "purge", message: "Purging ..." });
  state = promptReducer(state, { type: "finish", message: "Purge cancelled: the slug did not match" });
  expect(state).toEqual({ prompt: undefined, message: "Purge cancelled: the slug did not match" });
});

test("keys open prompts; destructive ones only with a selected row", () => {
  expect(tenantsKey("n", false)).toBe("onboard");
  expect(tenantsKey("s", false)).toBeUndefined();
  expect(tenantsKey("p", false)).toBeUndefined();
  expect(tenantsKey("s", true)).toBe("soft");
  expect(tenantsKey("p", true)).toBe("purge");
  expect(tenantsKey("x", true)).toBeUndefined();
  expect(rtbfKey("a", false)).toBeUndefined();
  expect([rtbfKey("a", true), rtbfKey("x", true), rtbfKey("h", true), rtbfKey("q", true)]).toEqual([
    "approve",
    "reject",
    "hold",
    undefined,
  ]);
});
