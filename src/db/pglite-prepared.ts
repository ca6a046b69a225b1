// Statements and transactions on PGlite's one connection, at the cost of one call into its WebAssembly each.
// PGlite's own query() sends every statement unnamed, in six calls (Parse, Describe, Bind, Describe, Execute,
// Sync), so PostgreSQL parses and plans it each time, and its transaction() spends two calls on BEGIN and two
// on COMMIT. Here a statement is parsed and described once per text (a named statement, like postgres.js
// `prepare: true` on PostgreSQL) and then run with one call (Bind, Execute, Sync); BEGIN travels in the same
// call as the transaction's first statement, and COMMIT is one call. Rows are built by PGlite's own parser
// from the same messages, so they are identical to query()'s.
// Plans stay correct for PostgreSQL's own reasons: a cached plan is re-planned when a table it uses changes
// and when the role or row security it was planned under differs (the door switches role per transaction).
import { type PGlite, parse, protocol, type QueryOptions, type Results } from "@electric-sql/pglite";

interface Statement {
  name: string;
  paramTypes: number[];
  /** The statement's RowDescription (none when it returns no rows), put before each run's rows. */
  rowDescription?: Message;
}

type Message = { name: string } & Record<string, unknown>;

/** Statements kept; the least recently used is closed beyond this. */
const MAX_STATEMENTS = 256;
/** SQLSTATE of "cached plan must not change result type" and "prepared statement does not exist". */
const STALE = new Set(["0A000", "26000"]);
const BEGIN = protocol.serialize.query("BEGIN");
const COMMIT = protocol.serialize.query("COMMIT");
const ROLLBACK = protocol.serialize.query("ROLLBACK");
const SYNC = protocol.serialize.sync();

/** What a transaction's statements run through; unusable once the transaction has ended. */
export interface PgliteTransaction {
  query<T>(text: string, params?: unknown[], options?: QueryOptions): Promise<Results<T>>;
  exec(text: string): Promise<void>;
  readonly closed: boolean;
}

export class PgliteConnection {
  readonly #pg: PGlite;
  readonly #statements = new Map<string, Statement>();
  /** Statements evicted, closed with the next call. */
  #toClose: string[] = [];
  #counter = 0;

  constructor(pg: PGlite) {
    this.#pg = pg;
  }

  /** One statement outside any transaction (committed on its own), prepared. */
  query<T>(text: string, params: unknown[] = []): Promise<Results<T>> {
    return this.#pg._runExclusiveTransaction(() => this.#statement<T>(text, params, undefined, "alone"));
  }

  /**
   * A transaction: BEGIN goes with its first statement, COMMIT after `fn` resolves, ROLLBACK when it throws
   * (nothing at all when `fn` ran no statement). Other callers wait, as with PGlite's own transaction().
   */
  transaction<T>(fn: (tx: PgliteTransaction) => Promise<T>): Promise<T> {
    return this.#pg._runExclusiveTransaction(async () => {
      let begun = false;
      let closed = false;
      const open = () => {
        if (closed) throw new Error("Transaction is closed");
        const first = !begun;
        begun = true;
        return first;
      };
      const tx: PgliteTransaction = {
        query: async <R>(text: string, params: unknown[] = [], options?: QueryOptions) =>
          this.#statement<R>(text, params, options, open() ? "first" : "inside"),
        exec: async (text) => {
          const first = open();
          await this.#exclusive([...(first ? [BEGIN] : []), protocol.serialize.query(text), SYNC]);
        },
        get closed() {
          return closed;
        },
      };
      let result: T;
      try {
        result = await fn(tx);
      } catch (error) {
        closed = true;
        if (begun) await this.#exclusive([ROLLBACK, SYNC]);
        throw error;
      }
      closed = true;
      if (!begun) return result;
      const messages = await this.#exclusive([COMMIT, SYNC]);
      // A transaction that failed inside `fn` with the error caught there cannot commit: PostgreSQL answers
      // COMMIT with ROLLBACK, and the caller must know its writes are gone (as PGlite's transaction() says).
      if (messages.some((m) => m.name === "commandComplete" && m.text === "ROLLBACK"))
        throw Object.assign(new Error("Transaction was rolled back instead of committed"), { code: "25P02" });
      return result;
    });
  }

  /**
   * `place`: alone (no transaction), first (BEGIN goes with it) or inside a transaction already begun. A
   * statement whose cached plan went stale (a table's columns changed under `select *`, say) is prepared again
   * and retried once when nothing else ran before it in its transaction; inside one, the error stands.
   */
  async #statement<T>(
    text: string,
    params: unknown[],
    options: QueryOptions | undefined,
    place: "alone" | "first" | "inside",
    retried = false,
  ): Promise<Results<T>> {
    const head = place === "first" ? [BEGIN] : [];
    let statement = this.#statements.get(text);
    if (statement) {
      // Most recently used last: a Map keeps insertion order.
      this.#statements.delete(text);
      this.#statements.set(text, statement);
    } else {
      statement = await this.#prepare(text, head);
      head.length = 0;
    }
    const values = params.map((value, i) => {
      if (value === null || value === undefined) return null;
      const serialize =
        options?.serializers?.[statement.paramTypes[i] as number] ??
        this.#pg.serializers[statement.paramTypes[i] as number];
      return serialize ? serialize(value) : String(value);
    });
    let messages: Message[];
    try {
      messages = await this.#exclusive([
        ...head,
        protocol.serialize.bind({ statement: statement.name, values: values as string[] }),
        protocol.serialize.execute({}),
        SYNC,
      ]);
    } catch (error) {
      if (!STALE.has((error as { code?: string }).code ?? "")) throw error;
      this.#forget(text);
      if (place === "inside" || retried) throw error;
      // Its transaction held nothing but BEGIN (or there was none): start over.
      if (place === "first") await this.#exclusive([ROLLBACK, SYNC]);
      return this.#statement<T>(text, params, options, place, true);
    }
    // The statement's rows follow its BindComplete (a BEGIN sent ahead has its own result, before it).
    const bound = messages.findIndex((m) => m.name === "bindComplete");
    const own = messages.slice(bound + 1);
    if (statement.rowDescription) own.unshift(statement.rowDescription);
    const [result] = parse.parseResults(own as never, this.#pg.parsers, options);
    return (result ?? { rows: [], fields: [], affectedRows: 0 }) as Results<T>;
  }

  async #prepare(text: string, head: Uint8Array[]): Promise<Statement> {
    const name = `clp_${++this.#counter}`;
    const messages = await this.#exclusive([
      ...head,
      protocol.serialize.parse({ name, text, types: [] }),
      protocol.serialize.describe({ type: "S", name }),
      SYNC,
    ]);
    const statement: Statement = {
      name,
      paramTypes: (messages.find((m) => m.name === "parameterDescription")?.dataTypeIDs as number[]) ?? [],
      rowDescription: messages.find((m) => m.name === "rowDescription"),
    };
    this.#statements.set(text, statement);
    while (this.#statements.size > MAX_STATEMENTS) this.#forget(this.#statements.keys().next().value as string);
    return statement;
  }

  #forget(text: string): void {
    const statement = this.#statements.get(text);
    if (!statement) return;
    this.#statements.delete(text);
    this.#toClose.push(statement.name);
  }

  /** One call into PGlite (pending Closes first), holding its query lock; throws PostgreSQL's error. */
  #exclusive(parts: Uint8Array[]): Promise<Message[]> {
    return this.#pg.runExclusive(async () => {
      const closes = this.#toClose.map((name) => protocol.serialize.close({ type: "S", name }));
      this.#toClose = [];
      const bytes = Buffer.concat(closes.length > 0 ? [...closes, ...parts] : parts);
      return (await this.#pg.execProtocolStream(bytes, { syncToFs: false })) as unknown as Message[];
    });
  }
}
