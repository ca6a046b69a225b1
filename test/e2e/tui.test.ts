// The compiled binary's console in a real pseudo-terminal (tmux): onboard a tenant and approve an erasure
// request with the keyboard, then check the database through the CLI.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compiledBinary, runBinary, startServe, onboardAcme } from "../helpers/binary.ts";

const dataDir = mkdtempSync(join(tmpdir(), "causeloop-e2e-tui-"));
const session = `causeloop-tui-${process.pid}`;
afterAll(() => {
  Bun.spawnSync(["tmux", "-L", session, "kill-server"]);
  rmSync(dataDir, { recursive: true, force: true });
});

// A tmux server of the test's own (-L): a server already running on the machine would lend its panes the
// environment of whoever started it, hiding what the console does in the test's environment.
const tmux = (...args: string[]) => Bun.spawnSync(["tmux", "-L", session, ...args]);
const screen = () => tmux("capture-pane", "-t", session, "-p").stdout.toString();
async function waitFor(text: string, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const shown = screen();
    if (shown.includes(text)) return shown;
    if (Date.now() > deadline) throw new Error(`"${text}" never appeared; the screen was:\n${shown}`);
    await Bun.sleep(150);
  }
}
const keys = (...k: string[]) => tmux("send-keys", "-t", session, ...k);
const type = (text: string) => tmux("send-keys", "-t", session, "-l", text);

test("without a terminal the console says so, points to the CLI and exits 2", async () => {
  const result = await runBinary(["tui", "--data-dir", dataDir]);
  expect(result.code).toBe(2);
  expect(result.stderr).toContain("needs an interactive terminal");
  expect(result.stderr).toContain("rtbf approve <id>");
});

// CI=true in the pane: Ink goes non-interactive (draws nothing until exit) when it sees CI, which is how
// this test once failed on the CI runner only.
test("onboard a tenant and approve an erasure request in the console of the compiled binary, at 80x24, even with CI=true", async () => {
  expect(Bun.which("tmux")).not.toBeNull();
  const acme = JSON.parse((await onboardAcme(dataDir, ["--json"])).stdout) as { admin_token: string };
  const server = await startServe(["--data-dir", dataDir]);
  try {
    const submitted = await fetch(`${server.url}/v1/governance/rtbf/requests`, {
      method: "POST",
      headers: { authorization: `Bearer ${acme.admin_token}`, "content-type": "application/json" },
      body: JSON.stringify({ email: "jane@example.com" }),
    });
    const requestId = ((await submitted.json()) as { id: string }).id;

    const binary = await compiledBinary();
    expect(
      tmux(
        "new-session",
        "-d",
        "-s",
        session,
        "-x",
        "80",
        "-y",
        "24",
        "-e",
        "CI=true",
        `${binary} tui --data-dir ${dataDir}`,
      ).exitCode,
    ).toBe(0);
    await waitFor("Health: OK");

    keys("2");
    await waitFor("acme");
    keys("n");
    await waitFor("Onboard a client");
    for (const value of ["globex", "Globex Inc", "ops@globex.com"]) {
      type(value);
      await Bun.sleep(150);
      keys("Enter");
      await Bun.sleep(150);
    }
    await waitFor("ADMIN TOKEN");

    keys("5");
    await waitFor(requestId);
    keys("a");
    await waitFor("This cannot be undone");
    keys("y");
    await waitFor(`${requestId}: COMPLETED`);
    keys("q");
    for (let i = 0; i < 50 && tmux("has-session", "-t", session).exitCode === 0; i++) await Bun.sleep(100);
    expect(tmux("has-session", "-t", session).exitCode).not.toBe(0); // the console exited on q

    const tenants = JSON.parse((await runBinary(["tenants", "list", "--json", "--data-dir", dataDir])).stdout) as {
      slug: string;
    }[];
    expect(tenants.map((t) => t.slug).sort()).toEqual(["acme", "globex"]);
    const requests = JSON.parse((await runBinary(["rtbf", "list", "--json", "--data-dir", dataDir])).stdout) as {
      id: string;
      status: string;
    }[];
    expect(requests.find((r) => r.id === requestId)?.status).toBe("completed");
  } finally {
    expect(await server.stop()).toBe(0);
  }
});
