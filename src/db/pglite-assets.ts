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
 */
export function loadPgliteAssets(): Promise<PgliteAssets> {
  // Read synchronously, so the compile starts at this call (on the engine's own threads) rather than when the
  // event loop next turns: cli/warm.ts calls this while the rest of the program is still loading.
  cached ??= WebAssembly.compile(readFileSync(pgliteWasmPath)).then((pgliteWasmModule) => ({
    pgliteWasmModule,
    fsBundle: Bun.file(fsBundlePath),
  }));
  return cached;
}

/** initdb's module: needed only to create a database without a template, so compiled only then. */
export function loadInitdbModule(): Promise<WebAssembly.Module> {
  initdb ??= WebAssembly.compile(readFileSync(initdbWasmPath));
  return initdb;
}
