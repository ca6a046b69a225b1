// The environment file Causeloop runs from (systemd's EnvironmentFile=, or `causeloop --env-file FILE`):
// KEY=value lines, comments and blank lines kept. Written whole, mode 0600, through a file beside it that is
// renamed into place, so a crash never leaves half a file (or a readable one) behind.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { AppError } from "../errors.ts";
import { writeFileAtomically } from "../files.ts";

const LINE = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/;

function unquote(raw: string): string {
  if (raw.length >= 2 && ((raw.startsWith('"') && raw.endsWith('"')) || (raw.startsWith("'") && raw.endsWith("'"))))
    return raw.slice(1, -1);
  return raw;
}

/** The variables an env file sets, in order (later lines win). Comments and blank lines are skipped. */
export function parseEnvFile(text: string, path = "env file"): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [index, line] of text.split("\n").entries()) {
    if (/^\s*(#|$)/.test(line)) continue;
    const match = LINE.exec(line);
    if (!match?.[1]) throw new AppError("config_invalid", `${path} line ${index + 1} is not KEY=value`);
    values[match[1]] = unquote(match[2] ?? "");
  }
  return values;
}

export function readEnvFile(path: string): Record<string, string> | undefined {
  if (!existsSync(path)) return undefined;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new AppError("config_invalid", `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? "error"}`);
  }
  return parseEnvFile(text, path);
}

/**
 * Sets each variable of the file that the environment does not already set (an explicit variable wins, as
 * with systemd's Environment= over EnvironmentFile=). Returns the names it set.
 */
export function loadEnvFile(path: string, env: Record<string, string | undefined> = process.env): string[] {
  const values = readEnvFile(path);
  if (!values) throw new AppError("config_invalid", `--env-file ${path} does not exist`);
  const set: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (env[key] !== undefined && env[key] !== "") continue;
    env[key] = value;
    set.push(key);
  }
  return set;
}

const quoteIfNeeded = (value: string) => (/^[A-Za-z0-9_@%+=:,./?&-]*$/.test(value) ? value : `"${value}"`);

/**
 * Writes the file with `updates` applied: existing lines for those keys are replaced in place, the rest of
 * the file (an operator's own settings and comments) is kept, new keys are appended under `header`.
 */
export function writeEnvFile(path: string, updates: Record<string, string>, header: string): void {
  const lines = existsSync(path) ? readFileSync(path, "utf8").replace(/\n$/, "").split("\n") : [];
  const pending = new Map(Object.entries(updates));
  const out = lines.map((line) => {
    const key = LINE.exec(line)?.[1];
    if (!key || /^\s*#/.test(line) || !pending.has(key)) return line;
    const value = pending.get(key) as string;
    pending.delete(key);
    return `${key}=${quoteIfNeeded(value)}`;
  });
  if (pending.size > 0) {
    if (out.length > 0) out.push("");
    out.push(`# ${header}`);
    for (const [key, value] of pending) out.push(`${key}=${quoteIfNeeded(value)}`);
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  try {
    writeFileAtomically(path, `${out.join("\n")}\n`);
  } catch (error) {
    throw new AppError("config_invalid", `cannot write ${path}: ${(error as NodeJS.ErrnoException).code ?? "error"}`);
  }
}
