// The relay's shared shapes: what a query asks for, what an executor returns, what masking reports.
// The agent (src/relay/agent/) checks a request against the client's policy, runs it through the executor of
// the database's kind, masks the rows, and sends back only the masked result.

export type DatabaseKind = "postgres" | "mongodb" | "dynamodb";

/** A PostgreSQL query: one SQL statement, checked by the policy engine before it reaches the database. */
export interface PostgresQuery {
  sql: string;
}

/** A MongoDB query: a find (filter), an aggregate (pipeline), a countDocuments or a distinct. */
export interface MongoQuery {
  collection: string;
  operation?: "find" | "aggregate" | "countDocuments" | "distinct";
  filter?: Record<string, unknown>;
  pipeline?: Record<string, unknown>[];
  projection?: Record<string, unknown>;
  sort?: Record<string, unknown>;
  field?: string;
  limit?: number;
}

/** A DynamoDB query: GetItem (key), Query (key condition), Scan or DescribeTable. */
export interface DynamoQuery {
  table: string;
  operation?: "GetItem" | "Query" | "Scan" | "DescribeTable";
  key?: Record<string, unknown>;
  key_condition?: string;
  filter?: string;
  index?: string;
  values?: Record<string, unknown>;
  names?: Record<string, string>;
  limit?: number;
}

export type RelayQuery = PostgresQuery | MongoQuery | DynamoQuery;

/** Caps every executor honours; the agent takes the smaller of the request's and the policy's. */
export interface QueryLimits {
  timeoutMs: number;
  maxRows: number;
  maxBytes: number;
}

/** What an executor returns before masking: rows as arrays in column order. */
export interface RawResult {
  columns: string[];
  rows: unknown[][];
  /** More rows (or bytes) existed than the caps allowed. */
  truncated: boolean;
  /** Tables or collections the query read, qualified where the engine has schemas. */
  tables: string[];
  /** The statement with its literals replaced, and the sha256 hex of that text, for the audit trail. */
  normalized: string;
  fingerprint: string;
  /** Result columns the policy says must be redacted whatever the masking rules say (denied columns in mask mode). */
  forcedMask?: string[];
}

/** Counts of masked cells, never the values. */
export interface MaskedCounts {
  by_kind: Record<string, number>;
  by_column: Record<string, number>;
}

export interface MaskedResult extends RawResult {
  masked: MaskedCounts;
}

/** A query the relay refused (policy, database, caps); `reason` is written for the person who asked. */
export class RelayRefusal extends Error {
  constructor(
    readonly code: "policy" | "parse" | "database" | "timeout" | "too_large" | "unavailable" | "invalid",
    readonly reason: string,
  ) {
    super(reason);
    this.name = "RelayRefusal";
  }
}

/** Runs read-only queries against one configured database. */
export interface Executor {
  readonly kind: DatabaseKind;
  /** Start-up checks (read-only role, reachability); throws with a clear message, or returns warnings. */
  check(): Promise<string[]>;
  run(query: RelayQuery, limits: QueryLimits): Promise<RawResult>;
  close(): Promise<void>;
}
