// Confirmation before anything destructive: a question on the terminal, or --yes when there is none.
import { createInterface } from "node:readline/promises";
import { AppError } from "../src/errors.ts";

async function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

/** Refuses without a terminal (pass --yes), else asks `what` and expects `expected` typed back. */
export async function confirmTyped(what: string, expected: string): Promise<void> {
  if (!process.stdin.isTTY)
    throw new AppError("bad_request", `${what} needs confirmation: pass --yes when not on a terminal`);
  const answer = await ask(`${what}. Type "${expected}" to confirm: `);
  if (answer.trim() !== expected) throw new AppError("bad_request", "confirmation did not match; nothing was changed");
}

/** Refuses without a terminal (pass --yes), else asks `what [y/N]`; anything but y/yes changes nothing. */
export async function confirmYes(what: string): Promise<void> {
  if (!process.stdin.isTTY)
    throw new AppError("bad_request", `${what} needs confirmation: pass --yes when not on a terminal`);
  const answer = (await ask(`${what} [y/N] `)).trim().toLowerCase();
  if (answer !== "y" && answer !== "yes") throw new AppError("bad_request", "not confirmed; nothing was changed");
}
