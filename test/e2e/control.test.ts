// The control socket validates what it is sent against each operation's schema: a wrong type, a missing
// argument or an unknown one is the catalogue's validation_failed (422), never a cast that runs anyway.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBinary, startServe } from "../helpers/binary.ts";
import { controlSocketPath } from "../../src/db/lock.ts";

const dataDir = mkdtempSync(join(tmpdir(), "causeloop-e2e-control-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

test("arguments of the wrong type sent to the control socket get validation_failed", async () => {
  const server = await startServe(["--data-dir", dataDir]);
  try {
    const send = async (operation: string, body: unknown) => {
      const response = await fetch(`http://causeloop/ops/${operation}`, {
        unix: controlSocketPath(dataDir),
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return {
        status: response.status,
        body: (await response.json()) as { ok: boolean; code?: string; detail?: string },
      };
    };
    const cases: [string, unknown][] = [
      ["rtbf.show", { args: { id: 42 }, actor: "operator:test" }],
      ["rtbf.show", { args: {}, actor: "operator:test" }],
      ["offboard", { args: { slug: "acme", mode: "obliterate" }, actor: "operator:test" }],
      ["audit.operator-log", { args: { limit: "10" }, actor: "operator:test" }],
      ["tenants.list", { args: { surprise: true }, actor: "operator:test" }],
      ["tenants.list", ["not", "an", "object"]],
    ];
    for (const [operation, body] of cases) {
      const answer = await send(operation, body);
      expect(`${operation} ${answer.status} ${answer.body.code}`).toBe(`${operation} 422 validation_failed`);
    }
    // The same operations with the right arguments work, through the socket, from the CLI.
    const listed = await runBinary(["tenants", "list", "--json", "--data-dir", dataDir]);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([]);
    expect((await send("tenants.list", { args: {}, actor: "operator:test" })).body.ok).toBe(true);
  } finally {
    await server.stop();
  }
});
