// The relay's pseudonymization key: held only by the relay (the server never sees it), so equal values stay
// joinable across results without being reversible by anyone who has only the results. From
// CAUSELOOP_RELAY_HMAC_KEY (base64 or hex, at least 32 bytes) or a file created 0600 on first start.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { RelayConfigError } from "./config.ts";

function decode(text: string): Uint8Array | undefined {
  const value = text.trim();
  if (/^[0-9a-f]+$/i.test(value) && value.length % 2 === 0) return Buffer.from(value, "hex");
  if (/^[A-Za-z0-9+/_-]+=*$/.test(value)) return Buffer.from(value, "base64");
  return undefined;
}

export function relayHmacKey(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  variable = "CAUSELOOP_RELAY_HMAC_KEY",
): Uint8Array {
  const fromEnv = env[variable];
  if (fromEnv) {
    const key = decode(fromEnv);
    if (!key || key.length < 32) throw new RelayConfigError(`${variable}: must be at least 32 bytes, hex or base64`);
    return key;
  }
  if (existsSync(file)) {
    const key = decode(readFileSync(file, "utf8"));
    if (!key || key.length < 32) throw new RelayConfigError(`${file}: not a relay key (32 bytes or more, hex)`);
    return key;
  }
  const key = crypto.getRandomValues(new Uint8Array(32));
  writeFileSync(file, `${Buffer.from(key).toString("hex")}\n`, { mode: 0o600, flag: "wx" });
  return key;
}
