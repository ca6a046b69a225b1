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

export function loadPgliteAssets(): Promise<PgliteAssets> {
  cached ??= (async () => {
    const [pgliteWasm, initdbWasm, bundle] = await Promise.all([
      Bun.file(pgliteWasmPath).arrayBuffer(),
      Bun.file(initdbWasmPath).arrayBuffer(),
      Bun.file(fsBundlePath).arrayBuffer(),
    ]);
    const [pgliteWasmModule, initdbWasmModule] = await Promise.all([
      WebAssembly.compile(pgliteWasm),
      WebAssembly.compile(initdbWasm),
    ]);
    return { pgliteWasmModule, initdbWasmModule, fsBundle: new Blob([bundle]) };
  })();
  return cached;
}
