// The real PostgreSQL parser (libpg-query, WebAssembly). The package's own entry instantiates the module at
// import time and reads libpg-query.wasm from beside its script, which fails inside a compiled binary (files
// live under /$bunfs there) and leaves an unhandled rejection behind. So we skip that entry: the wasm file is
// imported as a file (embedded by `bun build --compile`), compiled here, and handed to the emscripten factory
// through its `instantiateWasm` hook. The calls below mirror the package's own wrappers.
// @ts-expect-error the emscripten factory ships without type declarations; PgQueryFactory below types it.
import createPgQueryModule from "libpg-query/wasm/libpg-query.js";
import wasmPath from "libpg-query/wasm/libpg-query.wasm" with { type: "file" };

interface PgQueryModule {
  _malloc(size: number): number;
  _free(ptr: number): void;
  _wasm_parse_query_raw(queryPtr: number): number;
  _wasm_free_parse_result(resultPtr: number): void;
  _wasm_normalize_query(queryPtr: number): number;
  _wasm_free_string(ptr: number): void;
  getValue(ptr: number, type: "i32"): number;
  UTF8ToString(ptr: number): string;
  stringToUTF8(text: string, ptr: number, maxBytes: number): void;
  lengthBytesUTF8(text: string): number;
}

type InstantiateWasm = (
  imports: WebAssembly.Imports,
  receive: (instance: WebAssembly.Instance) => void,
) => Record<string, never>;
type PgQueryFactory = (options: { instantiateWasm: InstantiateWasm }) => Promise<PgQueryModule>;

const factory: PgQueryFactory = createPgQueryModule;

/** A JSON node of the parse tree: `{ "SelectStmt": {...} }` and the like. */
export type PgNode = Record<string, unknown>;

export interface ParseTree {
  version: number;
  stmts?: { stmt?: PgNode; stmt_location?: number; stmt_len?: number }[];
}

/** The parser rejected the text; `position` is 0-based in characters of the input. */
export class SqlSyntaxError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
    this.name = "SqlSyntaxError";
  }
}

let loading: Promise<PgQueryModule> | undefined;

function loadParser(): Promise<PgQueryModule> {
  loading ??= (async () => {
    const compiled = await WebAssembly.compile(await Bun.file(wasmPath).arrayBuffer());
    return factory({
      instantiateWasm: (imports, receive) => {
        void WebAssembly.instantiate(compiled, imports).then(receive);
        return {};
      },
    });
  })();
  // A failed load must not stick: the next call tries again instead of replaying the same rejection forever.
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}

function withCString<T>(m: PgQueryModule, text: string, fn: (ptr: number) => T): T {
  const len = m.lengthBytesUTF8(text) + 1;
  const ptr = m._malloc(len);
  try {
    m.stringToUTF8(text, ptr, len);
    return fn(ptr);
  } finally {
    m._free(ptr);
  }
}

/** Converts a byte offset in the UTF-8 encoding of `text` into a character offset. */
function charOffset(text: string, byteOffset: number): number {
  const bytes = new TextEncoder().encode(text);
  return new TextDecoder().decode(bytes.subarray(0, Math.max(0, byteOffset))).length;
}

/**
 * Runs `fn` on the module; an unexpected failure (a WebAssembly stack overflow on absurd nesting) may leave its
 * memory inconsistent, so the next call starts from a fresh instance.
 */
async function withModule<T>(fn: (m: PgQueryModule) => T): Promise<T> {
  const m = await loadParser();
  try {
    return fn(m);
  } catch (error) {
    if (!(error instanceof SqlSyntaxError)) loading = undefined;
    throw error;
  }
}

/** Parses SQL into libpg-query's JSON tree; throws SqlSyntaxError for text PostgreSQL would not accept. */
export async function parseSql(sql: string): Promise<ParseTree> {
  return withModule((m) =>
    withCString(m, sql, (queryPtr) => {
      const resultPtr = m._wasm_parse_query_raw(queryPtr);
      if (!resultPtr) throw new Error("the SQL parser ran out of memory");
      try {
        const treePtr = m.getValue(resultPtr, "i32");
        const errorPtr = m.getValue(resultPtr + 8, "i32");
        if (errorPtr) {
          const messagePtr = m.getValue(errorPtr, "i32");
          const cursor = m.getValue(errorPtr + 16, "i32");
          const message = messagePtr ? m.UTF8ToString(messagePtr) : "unknown parser error";
          throw new SqlSyntaxError(message, charOffset(sql, cursor > 0 ? cursor - 1 : 0));
        }
        if (!treePtr) throw new Error("the SQL parser returned no tree");
        return JSON.parse(m.UTF8ToString(treePtr)) as ParseTree;
      } finally {
        m._wasm_free_parse_result(resultPtr);
      }
    }),
  );
}

/** The statement with its constants replaced by $1, $2, ... (libpg-query's normalize). */
export async function normalizeSql(sql: string): Promise<string> {
  return withModule((m) =>
    withCString(m, sql, (queryPtr) => {
      const resultPtr = m._wasm_normalize_query(queryPtr);
      try {
        const text = m.UTF8ToString(resultPtr);
        if (/^(syntax error|deparse error|ERROR)/.test(text)) throw new Error(text);
        return text;
      } finally {
        if (resultPtr) m._wasm_free_string(resultPtr);
      }
    }),
  );
}
