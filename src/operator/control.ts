// The control socket: while `serve` holds a PGlite data dir, operator commands run inside it over a Unix
// socket in the data dir (mode 0600, so only the service's user can reach it), never around it.
import { chmodSync, existsSync, unlinkSync } from "node:fs";
import { AppError, ERROR_CATALOGUE, type ErrorCode } from "../errors.ts";
import { controlSocketPath, readLockHolder } from "../db/lock.ts";
import type { Logger } from "../log.ts";

/** The body of a request on the socket: the operation's arguments and who asked (validated by the handler). */
export interface ControlBody {
  args?: unknown;
  actor?: unknown;
}

type Handler = (name: string, body: ControlBody) => Promise<unknown>;

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
          const body: unknown = await request.json().catch(() => undefined);
          if (typeof body !== "object" || body === null || Array.isArray(body))
            throw new AppError("validation_failed", "the request body must be a JSON object {args, actor}");
          const result = await handler(name, body);
          return Response.json({ ok: true, result });
        } catch (error) {
          const code: ErrorCode = error instanceof AppError ? error.code : "internal";
          if (code === "internal") logger.error("control.failed", { operation: name, error: (error as Error).message });
          return Response.json(
            { ok: false, code, detail: error instanceof AppError ? error.message : (error as Error).message },
            { status: ERROR_CATALOGUE[code].status },
          );
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

export async function controlRequest(dataDir: string, name: string, body: ControlBody): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(`http://causeloop/ops/${name}`, {
      unix: controlSocketPath(dataDir),
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch (error) {
    throw new AppError(
      "data_dir_locked",
      `causeloop serve holds ${dataDir} but its control socket did not answer (${(error as Error).message})`,
    );
  }
  const answer = (await response.json()) as { ok: boolean; result?: unknown; code?: ErrorCode; detail?: string };
  if (!answer.ok)
    throw new AppError(
      answer.code && answer.code in ERROR_CATALOGUE ? answer.code : "internal",
      answer.detail ?? "operation failed",
    );
  return answer.result;
}
