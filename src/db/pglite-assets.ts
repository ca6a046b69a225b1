// PGlite looks for its WebAssembly and file-system bundle by path at run time, which fails inside a compiled
// binary (the files live under /$bunfs). Importing them as files embeds them in the binary; we compile and
// hand them to PGlite ourselves.
import pgliteWasmPath from "@electric-sql/pglite/pglite.wasm" with { type: "file" };
import initdbWasmPath from "@electric-sql/pglite/initdb.wasm" with { type: "file" };
import fsBundlePath from "@electric-sql/pglite/pglite.data" with { type: "file" };
import { readFileSync } from "node:fs";

export interface PgliteAssets {
  pgliteWasmModule: WebAssembly.Module;
  fsBundle: Blob;
}

let cached: Promise<PgliteAssets> | undefined;
let initdb: Promise<WebAssembly.Module> | undefined;

/**
 * The compiled module is kept for the next PGlite of the process (compiling takes a while); its bytes are
 * not. The file-system bundle stays a reference to the embedded file, read by each PGlite.create, rather than
 * a 6 MiB copy held for the life of the process.
 *
 * Compiled synchronously, on the calling thread. `WebAssembly.compile` runs on the engine's compiler threads,
 * which then sit idle: the memory their compile freed stays in their allocator's pages, in one start of two
 * about 18 MiB more resident for the life of the process (an idle embedded serve at 239-257 MiB after its first
 * isolation attestation, against 241-248 compiled here). The compile overlapped module loading on those
 * threads, but on two cores the two slowed each other down: a later start gains about 25 ms from it, not
 * the compile's 200-250 ms (docs/BENCHMARKS.md).
 */
export function loadPgliteAssets(): Promise<PgliteAssets> {
  cached ??= new Promise((resolve) =>
    resolve({
      pgliteWasmModule: new WebAssembly.Module(readFileSync(pgliteWasmPath)),
      fsBundle: Bun.file(fsBundlePath),
    }),
  );
  return cached;
}

/** initdb's module: needed only to create a database without a template, so compiled only then. */
export function loadInitdbModule(): Promise<WebAssembly.Module> {
  initdb ??= WebAssembly.compile(readFileSync(initdbWasmPath));
  return initdb;
}
