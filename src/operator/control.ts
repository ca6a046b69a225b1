// The control socket: while `serve` holds a PGlite data dir, operator commands run inside it over a Unix
// socket in the data dir (mode 0600, so only the service's user can reach it), never around it.
import { chmodSync, existsSync, unlinkSync } from "node:fs";
import { AppError, ERROR_CATALOGUE, type ErrorCode } from "../errors.ts";
import { controlSocketPath, readLockHolder } from "../db/lock.ts";
import type { Logger } from "../log.ts";

type Handler = (name: string, args: Record<string, unknown>) => Promise<unknown>;

export interface ControlServer {
  stop(): void;
}

export function startControlServer(dataDir: string, handler: Handler, logger: Logger): ControlServer {
  const path = controlSocketPath(dataDir);
  if (existsSync(path)) unlinkSync(path); // we hold the data-dir lock, so any socket here is stale
  const previous = process.umask(0o177);
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      unix: path,
      async fetch(request) {
        const name = new URL(request.url).pathname.replace(/^\/ops\//, "");
        try {
          const args = (await request.json().catch(() => ({}))) as Record<string, unknown>;
          const result = await handler(name, args);
          return Response.json({ ok: true, result });
        } catch (error) {
          const code: ErrorCode = error instanceof AppError ? error.code : "internal";
          if (code === "internal") logger.error("control.failed", { operation: name, error: (error as Error).message });
          return Response.json({ ok: false, code, detail: error instanceof AppError ? error.message : (error as Error).message }, { status: ERROR_CATALOGUE[code].status });
        }
      },
    });
  } finally {
    process.umask(previous);
  }
  chmodSync(path, 0o600);
  return {
    stop() {
      server.stop(true);
      try {
        unlinkSync(path);
      } catch {
        // gone already
      }
    },
  };
}

export function serveIsRunning(dataDir: string): boolean {
  return readLockHolder(dataDir)?.kind === "serve" && existsSync(controlSocketPath(dataDir));
}

export async function controlRequest(dataDir: string, name: string, args: Record<string, unknown>): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(`http://causeloop/ops/${name}`, {
      unix: controlSocketPath(dataDir),
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(args),
    });
  } catch (error) {
    throw new AppError("data_dir_locked", `causeloop serve holds ${dataDir} but its control socket did not answer (${(error as Error).message})`);
  }
  const body = (await response.json()) as { ok: boolean; result?: unknown; code?: ErrorCode; detail?: string };
  if (!body.ok) throw new AppError(body.code && body.code in ERROR_CATALOGUE ? body.code : "internal", body.detail ?? "operation failed");
  return body.result;
}
