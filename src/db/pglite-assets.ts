// PGlite looks for its WebAssembly and file-system bundle by path at run time, which fails inside a compiled
// binary (the files live under /$bunfs). Importing them as files embeds them in the binary; we compile and
// hand them to PGlite ourselves.
import pgliteWasmPath from "@electric-sql/pglite/pglite.wasm" with { type: "file" };
import initdbWasmPath from "@electric-sql/pglite/initdb.wasm" with { type: "file" };
import fsBundlePath from "@electric-sql/pglite/pglite.data" with { type: "file" };

export interface PgliteAssets {
  pgliteWasmModule: WebAssembly.Module;
  initdbWasmModule: WebAssembly.Module;
  fsBundle: Blob;
}

let cached: Promise<PgliteAssets> | undefined;

/**
 * The compiled modules are kept for the next PGlite of the process (compiling takes a while); their bytes are
 * not. The file-system bundle stays a reference to the embedded file, read by each PGlite.create, rather than
 * a 6 MiB copy held for the life of the process.
 */
export function loadPgliteAssets(): Promise<PgliteAssets> {
  cached ??= (async () => {
    const [pgliteWasmModule, initdbWasmModule] = await Promise.all([
      Bun.file(pgliteWasmPath)
        .arrayBuffer()
        .then((bytes) => WebAssembly.compile(bytes)),
      Bun.file(initdbWasmPath)
        .arrayBuffer()
        .then((bytes) => WebAssembly.compile(bytes)),
    ]);
    return { pgliteWasmModule, initdbWasmModule, fsBundle: Bun.file(fsBundlePath) };
  })();
  return cached;
}
