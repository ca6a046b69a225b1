// Screen state of the console's list screens, kept out of the components so it is tested without rendering:
// at most one prompt open at a time (a form or a y/N question) and the last message; which key opens which
// prompt, and when a key needs a selected row.

export interface PromptState<P extends string> {
  prompt: P | undefined;
  message: string | undefined;
}

export type PromptAction<P extends string> =
  | { type: "open"; prompt: P }
  | { type: "finish"; message: string }
  | { type: "note"; message: string };

export function promptReducer<P extends string>(state: PromptState<P>, action: PromptAction<P>): PromptState<P> {
  switch (action.type) {
    case "open":
      return state.prompt ? state : { ...state, prompt: action.prompt };
    case "finish":
      return { prompt: undefined, message: action.message };
    case "note":
      return { ...state, message: action.message };
  }
}

export type TenantsPrompt = "onboard" | "soft" | "purge";
export type RtbfPrompt = "approve" | "reject" | "hold";

/** Tenants: n onboards (no selection needed); s soft-offboards and p purges the selected tenant. */
export function tenantsKey(input: string, hasSelection: boolean): TenantsPrompt | undefined {
  if (input === "n") return "onboard";
  if (!hasSelection) return undefined;
  return input === "s" ? "soft" : input === "p" ? "purge" : undefined;
}

/** Erasure requests: a approves, x rejects, h holds the selected request. */
export function rtbfKey(input: string, hasSelection: boolean): RtbfPrompt | undefined {
  if (!hasSelection) return undefined;
  return input === "a" ? "approve" : input === "x" ? "reject" : input === "h" ? "hold" : undefined;
}
