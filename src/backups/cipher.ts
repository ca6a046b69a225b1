// Streaming AES-256-GCM for backup files: the data file is ciphertext followed by the 16-byte tag; the nonce
// and the additional data are in the signed manifest. Memory stays constant (one chunk at a time); a file
// that was changed, cut or opened with another key fails at the end, when GCM checks the tag, so decrypted
// bytes are used only after decryptFile returned.
import { createCipheriv, createDecipheriv, createHash } from "node:crypto";
import { closeSync, createReadStream, createWriteStream, fstatSync, openSync, readSync } from "node:fs";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { Transform, type Readable } from "node:stream";
import { AppError } from "../errors.ts";

export const CIPHER = "aes-256-gcm";
export const TAG_BYTES = 16;
export const NONCE_BYTES = 12;

export interface EncryptResult {
  /** The compressed snapshot's size (what is encrypted). */
  plaintextBytes: number;
  encryptedBytes: number;
  /** sha256 (hex) of the whole encrypted file, tag included. */
  sha256: string;
}

/**
 * Compresses (gzip, unless the source is compressed already: `gzip: false`) and encrypts a stream into `path`
 * (mode 0600), hashing what it writes.
 */
export async function encryptToFile(
  source: Readable,
  path: string,
  key: Uint8Array,
  nonce: Uint8Array,
  aad: string,
  options: { gzip: boolean } = { gzip: true },
): Promise<EncryptResult> {
  const cipher = createCipheriv(CIPHER, key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const hash = createHash("sha256");
  let plaintextBytes = 0;
  let encryptedBytes = 0;
  const seal = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      plaintextBytes += chunk.length;
      const out = cipher.update(chunk);
      hash.update(out);
      encryptedBytes += out.length;
      done(null, out);
    },
    flush(done) {
      const last = Buffer.concat([cipher.final(), cipher.getAuthTag()]);
      hash.update(last);
      encryptedBytes += last.length;
      done(null, last);
    },
  });
  // zlib works off the event loop's thread: a server taking a backup keeps answering meanwhile.
  const out = createWriteStream(path, { mode: 0o600, flags: "wx" });
  if (options.gzip) await pipeline(source, createGzip({ level: 6 }), seal, out);
  else await pipeline(source, seal, out);
  return { plaintextBytes, encryptedBytes, sha256: hash.digest("hex") };
}

/** sha256 (hex) and size of a file, read in chunks. */
export async function hashFile(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), bytes };
}

/**
 * Decrypts `path` into `out` (mode 0600). Throws a clear error when the tag does not verify: the wrong key,
 * or a file that was changed after it was written.
 */
export async function decryptFile(path: string, out: string, key: Uint8Array, nonce: Uint8Array, aad: string) {
  const fd = openSync(path, "r");
  let size: number;
  const tag = Buffer.alloc(TAG_BYTES);
  try {
    size = fstatSync(fd).size;
    if (size <= TAG_BYTES) throw new AppError("bad_request", `${path} is too short to be a backup file`);
    readSync(fd, tag, 0, TAG_BYTES, size - TAG_BYTES);
  } finally {
    closeSync(fd);
  }
  const decipher = createDecipheriv(CIPHER, key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(aad, "utf8"));
  decipher.setAuthTag(tag);
  const open = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      done(null, decipher.update(chunk));
    },
    flush(done) {
      try {
        done(null, decipher.final());
      } catch {
        done(new AppError("bad_request", "decryption failed: the file was changed or the key is wrong"));
      }
    },
  });
  await pipeline(
    createReadStream(path, { start: 0, end: size - TAG_BYTES - 1 }),
    open,
    createWriteStream(out, { mode: 0o600 }),
  );
}
