// The compiled binary killed with SIGKILL while a webhook delivery is in flight: nothing is lost. The event
// was committed to the outbox with the issue; the next start sends it again, with the same webhook-id, and
// the receiver's Standard Webhooks library accepts it.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { freePort, onboardAcme, runBinary, startServe } from "../helpers/binary.ts";

const dir = mkdtempSync(join(tmpdir(), "causeloop-e2e-delivery-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("kill -9 mid-delivery loses nothing: after the restart the event arrives with the same id", async () => {
  const dataDir = join(dir, "data");
  const onboarded = await onboardAcme(dataDir, ["--json"]);
  expect(onboarded.code).toBe(0);
  const token = (JSON.parse(onboarded.stdout) as { admin_token: string }).admin_token;

  // The receiver holds the first request open (the server is killed while it waits), then answers.
  const seen: { id: string; body: string; headers: Record<string, string> }[] = [];
  let hold = true;
  let arrived: () => void = () => {};
  const firstArrival = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  const receiver = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 60,
    fetch: async (request) => {
      const body = await request.text();
      const headers = Object.fromEntries(request.headers.entries());
      seen.push({ id: headers["webhook-id"] ?? "", body, headers });
      arrived();
      if (hold) await Bun.sleep(30_000);
      return new Response("ok");
    },
  });
  const env = { HOME: dir, CAUSELOOP_OUTBOUND_ALLOWLIST: "127.0.0.1", CAUSELOOP_LOG_LEVEL: "warn" };
  try {
    const first = await startServe(["--data-dir", dataDir], env);
    const post = (path: string, body: unknown) =>
      fetch(`${first.url}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const hook = (await (
      await post("/v1/webhooks", { url: `http://127.0.0.1:${receiver.port}/hook`, events: ["issue.created"] })
    ).json()) as { secret: string };
    expect((await post("/v1/issues", { title: "Sent while the server dies" })).status).toBe(201);
    await firstArrival;
    first.proc.kill("SIGKILL");
    await first.proc.exited;
    hold = false;

    const second = await startServe(["--data-dir", dataDir], env);
    try {
      const deadline = Date.now() + 30_000;
      while (seen.length < 2 && Date.now() < deadline) await Bun.sleep(100);
      expect(seen.length).toBe(2);
      expect(seen[1]?.id).toBe(seen[0]?.id as string);
      const verified = new Webhook(hook.secret).verify(
        seen[1]?.body as string,
        seen[1]?.headers as Record<string, string>,
      );
      expect(verified).toMatchObject({ type: "issue.created", data: { title: "Sent while the server dies" } });
      // Delivered once after the restart: no third copy.
      await Bun.sleep(1500);
      expect(seen).toHaveLength(2);
    } finally {
      expect(await second.stop()).toBe(0);
    }
  } finally {
    receiver.stop(true);
  }
}, 120_000);

test("a receiver down for good: the event ends in the dead-letter queue; the operator lists it and replays it", async () => {
  const dataDir = join(dir, "dlq");
  const onboarded = await onboardAcme(dataDir, ["--json"]);
  const { admin_token: token, workspace_id: ws } = JSON.parse(onboarded.stdout) as {
    admin_token: string;
    workspace_id: string;
  };
  const port = await freePort(); // nobody listens there yet
  const serve = await startServe(["--data-dir", dataDir], {
    HOME: dir,
    CAUSELOOP_OUTBOUND_ALLOWLIST: "127.0.0.1",
    CAUSELOOP_DELIVERY_RETRY_SCHEDULE: "0.1,0.1",
  });
  let receiver: ReturnType<typeof Bun.serve> | undefined;
  try {
    const post = (path: string, body: unknown) =>
      fetch(`${serve.url}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    await post("/v1/webhooks", { url: `http://127.0.0.1:${port}/hook`, events: ["issue.created"] });
    await post("/v1/issues", { title: "Nobody is listening" });
    const cli = (args: string[]) => runBinary([...args, "--data-dir", dataDir, "--json"], { HOME: dir });
    let dead: { id: string; attempts: number; last_error: string }[] = [];
    for (let i = 0; i < 100 && dead.length === 0; i++) {
      await Bun.sleep(200);
      const listed = await cli(["deliveries", "list", "--workspace", ws, "--status", "dead"]);
      expect(listed.code).toBe(0);
      dead = JSON.parse(listed.stdout);
    }
    expect(dead).toHaveLength(1);
    expect(dead[0]?.attempts).toBe(3);
    expect(dead[0]?.last_error).toContain("failed");

    const got: string[] = [];
    receiver = Bun.serve({
      hostname: "127.0.0.1",
      port,
      fetch: async (request) => {
        got.push(await request.text());
        return new Response("ok");
      },
    });
    const replayed = await cli(["deliveries", "replay", dead[0]?.id as string, "--workspace", ws]);
    expect(replayed.code).toBe(0);
    for (let i = 0; i < 100 && got.length === 0; i++) await Bun.sleep(100);
    expect(got).toHaveLength(1);
    expect(JSON.parse(got[0] as string)).toMatchObject({ type: "issue.created" });
    const bad = await runBinary(["deliveries", "replay", "dlv_nope", "--workspace", ws, "--data-dir", dataDir], {
      HOME: dir,
    });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
  } finally {
    receiver?.stop(true);
    expect(await serve.stop()).toBe(0);
  }
}, 120_000);
