// Server-held keys other than the master key (audit signing, access tokens, RTBF subject refs, export links),
// one key per purpose: from an environment variable, a *_FILE variable, or a file in the data dir generated
// with mode 0600 — unless the database already holds what the lost key made (see `dependents`).
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AppError } from "../errors.ts";

export interface ServerKeySource {
  env: Record<string, string | undefined>;
  dataDir: string;
  embedded: boolean;
  /**
   * What in the database depends on each key file, by file name (e.g. "audit-signing.key": "signed audit
   * checkpoints"). A key with dependents is never generated afresh: a lost file must fail loudly, since a new
   * key would make everything signed or derived with the old one look forged or unrelated.
   */
  dependents?: Record<string, string | undefined>;
}

/**
 * The key's text; `generate` makes a new one when the data-dir file is absent (embedded, or no variable set).
 * Without `generate` (a command that only verifies) an absent key is an error: a fresh key verifies nothing.
 */
export function loadServerKey(
  source: ServerKeySource,
  variable: string,
  fileName: string,
  generate: (() => string) | undefined,
): string {
  const direct = source.env[variable];
  if (direct) return direct.trim();
  const fileVar = source.env[`${variable}_FILE`];
  if (fileVar) {
    try {
      return readFileSync(fileVar, "utf8").trim();
    } catch {
      throw new AppError("config_invalid", `${variable}_FILE ${fileVar} cannot be read`);
    }
  }
  const path = join(source.dataDir, fileName);
  const dependents = source.dependents?.[fileName];
  if (!existsSync(path) && dependents) {
    throw new AppError(
      "config_invalid",
      `the key file ${path} is missing, but ${dependents} made with it exist: restore that file (or set ${variable} or ${variable}_FILE); a new key would not match them`,
    );
  }
  if (!existsSync(path) && !generate)
    throw new AppError(
      "config_invalid",
      `no ${fileName} in ${source.dataDir} (nor ${variable} or ${variable}_FILE): point --data-dir at the installation, or give the public keys with --jwks`,
    );
  if (!existsSync(path) && generate) {
    mkdirSync(source.dataDir, { recursive: true, mode: 0o700 });
    try {
      writeFileSync(path, `${generate()}\n`, { mode: 0o600, flag: "wx" });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST")
        throw new AppError("config_invalid", `cannot write ${path}: ${(error as Error).message}`);
    }
    chmodSync(path, 0o600);
  }
  return readFileSync(path, "utf8").trim();
}
