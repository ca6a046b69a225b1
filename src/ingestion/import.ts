// Bulk import of history (`causeloop ingest`): a file of events read as a stream, one line at a time (NDJSON),
// or a JSON array (a vendor's export), ingested through the same service as the receiving URL, a batch of
// events per tenant transaction. A line that cannot be read is counted and reported, never fatal.
import type { Engine } from "../db/engine.ts";
import { withTenant } from "../db/tenant.ts";
import { isAppError } from "../errors.ts";
import type { Progress } from "../operator/contract.ts";
import { adapterFor, type Source } from "./adapters/index.ts";
import { genericEvent } from "./adapters/generic.ts";
import { Reader } from "./adapters/read.ts";
import type { NormalizedEvent } from "./event.ts";
import { ingestEvent } from "./service.ts";

const BATCH = 200;
const REPORTED_ERRORS = 20;

export interface ImportOptions {
  workspaceId: string;
  source: Source;
  path: string;
  /** Lines are normalized events (the generic format) labelled with `source`, rather than the vendor's payloads. */
  normalized: boolean;
  /** Who runs it: `operator:<login>`. */
  operator: string;
}

export interface ImportReport {
  lines: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  /** The first few unreadable lines and why. */
  errors: { line: number; error: string }[];
}

/** The values of the file: a JSON array's items, or each non-empty line (with its line number). */
async function* values(path: string, progress?: Progress): AsyncGenerator<{ line: number; text: string }> {
  const file = Bun.file(path);
  const total = file.size;
  const head = (await file.slice(0, 1024).text()).trimStart();
  if (head.startsWith("[")) {
    const items = (await file.json()) as unknown[];
    for (const [i, item] of (Array.isArray(items) ? items : []).entries())
      yield { line: i + 1, text: JSON.stringify(item) };
    progress?.(total, total);
    return;
  }
  const decoder = new TextDecoder();
  let pending = "";
  let read = 0;
  let line = 0;
  for await (const chunk of file.stream()) {
    read += chunk.byteLength;
    pending += decoder.decode(chunk, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const text of lines) {
      line++;
      if (text.trim()) yield { line, text };
    }
    progress?.(read, total);
  }
  pending += decoder.decode();
  if (pending.trim()) yield { line: line + 1, text: pending };
  progress?.(total, total);
}

function eventsOf(text: string, options: ImportOptions): NormalizedEvent[] {
  const body = JSON.parse(text) as unknown;
  if (options.normalized || options.source === "generic")
    return [genericEvent(Reader.of(body, "line"), options.source)];
  return adapterFor(options.source)({ body, headers: new Headers() });
}

export async function importFile(engine: Engine, options: ImportOptions, progress?: Progress): Promise<ImportReport> {
  const report: ImportReport = { lines: 0, accepted: 0, duplicates: 0, rejected: 0, errors: [] };
  let batch: NormalizedEvent[] = [];
  const flush = async () => {
    if (!batch.length) return;
    const events = batch;
    batch = [];
    await withTenant(engine, options.workspaceId, async (tx) => {
      for (const event of events) {
        const result = await ingestEvent(
          tx,
          { workspaceId: options.workspaceId, inboundWebhookId: null, operator: options.operator },
          event,
        );
        if (result.duplicate) report.duplicates++;
        else report.accepted++;
      }
    });
  };
  for await (const { line, text } of values(options.path, progress)) {
    report.lines++;
    try {
      batch.push(...eventsOf(text, options));
    } catch (error) {
      report.rejected++;
      const message = isAppError(error) ? error.message : "not valid JSON";
      if (report.errors.length < REPORTED_ERRORS) report.errors.push({ line, error: message });
    }
    if (batch.length >= BATCH) await flush();
  }
  await flush();
  return report;
}
