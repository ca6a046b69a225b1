// The README stays true: every environment variable Causeloop reads and every CLI command is documented.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { ENVIRONMENT } from "../../src/config.ts";
import { buildProgram } from "../../cli/main.ts";

const readme = readFileSync(join(import.meta.dir, "..", "..", "README.md"), "utf8");

test("every environment variable is in the README", () => {
  const missing = Object.keys(ENVIRONMENT).filter((name) => !readme.includes(`\`${name}\``));
  expect(missing).toEqual([]);
});

test("every command is in the README", () => {
  const names: string[] = [];
  const walk = (command: Command, prefix: string) => {
    for (const sub of command.commands) {
      const name = `${prefix}${sub.name()}`;
      if (sub.commands.length === 0) names.push(name);
      walk(sub, `${name} `);
    }
  };
  walk(buildProgram(), "causeloop ");
  expect(names.length).toBeGreaterThan(25);
  const missing = names.filter(
    (name) =>
      !readme.includes(name) &&
      !readme.includes(`${name.split(" ").slice(0, 2).join(" ")} ${name.split(" ").slice(2).join(" ")}`),
  );
  expect(missing).toEqual([]);
});
