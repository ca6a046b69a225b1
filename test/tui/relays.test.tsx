// The Relays screen on a real database, through the console's own operator session (no faked services): a
// workspace's relay tokens and connections, a new token shown once, revoke only after y.
import { afterEach, expect, test } from "bun:test";
import { render } from "ink-testing-library";
import { App } from "../../tui/app.tsx";
import { operatorServices, type TuiServices } from "../../tui/services.ts";
import { openPglite } from "../../src/db/engine.ts";
import { withTenant } from "../../src/db/tenant.ts";
import { openSession } from "../../src/relay/hub/sessions.ts";
import { createTestDb, type TestDb } from "../helpers/db.ts";

let db: TestDb | undefined;
let services: TuiServices | undefined;
afterEach(async () => {
  await services?.close?.();
  await db?.dispose();
  db = services = undefined;
});

const tick = (ms = 20) => new Promise((resolve) => setTimeout(resolve, ms));
/** Waits (up to 15 s: each operation opens the PGlite data dir) until the condition holds. */
async function waitFor(condition: () => boolean | undefined): Promise<void> {
  for (let i = 0; i < 750 && !condition(); i++) await tick();
}
const row = (frame: string | undefined, text: string) => frame?.split("\n").find((l) => l.includes(text)) ?? "";

test("Relays (-): a workspace's tokens and connections; a new token shown once; revoke only after y", async () => {
  db = await createTestDb("pglite");
  await db.owner.close(); // the console's session opens the data dir itself
  const config = { ...db.config, lockWaitMs: 0 };

  // A tenant with two relay tokens, made through the operator plane as the CLI would ...
  const setup = operatorServices(config);
  const { workspace_id: workspace } = await setup.onboard({ slug: "acme", name: "Acme", adminEmail: "ops@acme.com" });
  const warehouse = await setup.relayTokenCreate?.(workspace, "warehouse");
  await setup.relayTokenCreate?.(workspace, "staging");
  await setup.close?.();
  // ... and warehouse's relay connected, recorded as the hub records it.
  const hub = await openPglite(db.dataDir as string);
  await withTenant(hub, workspace, (tx) =>
    openSession(tx, {
      workspaceId: workspace,
      tokenId: warehouse?.id as string,
      relayName: "warehouse",
      instanceId: "ins_test",
      agentVersion: "1.4.0",
      databases: [
        { name: "orders", kind: "postgres" },
        { name: "events", kind: "mongodb" },
      ],
      context: {},
    }),
  );
  await hub.close();

  services = operatorServices(config);
  const { lastFrame, stdin } = render(<App services={services} />);
  await tick();
  stdin.write("-");
  await waitFor(() => lastFrame()?.includes("CONNECTED"));
  let frame = lastFrame() ?? "";
  expect(frame).toContain(" - Relays *");
  expect(frame).toContain(`acme/production (${workspace})`);
  expect(frame).toContain("Relay tokens: 2");
  expect(row(frame, "> staging")).toMatch(/> staging\s+clp_relay_\S+\s+\d{4}-\d\d-\d\d never\s+active/);
  expect(row(frame, "  warehouse  ")).toContain(warehouse?.prefix as string);
  expect(frame).toContain("Connections: 1");
  expect(row(frame, "CONNECTED")).toMatch(/warehouse\s+CONNECTED\s+1\.4\.0\s+\d+s ago\s+orders \(postgres\), events/);
  expect(frame).not.toContain(warehouse?.token as string); // the secret is never listed

  // n: the name form; the new token is shown once, with the note to copy it now.
  stdin.write("n");
  await waitFor(() => lastFrame()?.includes("New relay token"));
  stdin.write("edge-eu\r");
  await waitFor(() => lastFrame()?.includes("shown once"));
  frame = lastFrame() ?? "";
  const secret = frame.match(/clp_relay_[A-Za-z0-9_]{20,}/)?.[0] as string;
  expect(secret).toBeDefined();
  expect(frame).toContain("TOKEN, shown once: copy it now");
  expect(frame).toMatch(/Relay token rlt_\w+ for relay edge-eu created/);
  await waitFor(() => lastFrame()?.includes("Relay tokens: 3"));
  expect(row(lastFrame(), "> edge-eu")).toContain(secret.slice(0, 16)); // listed by its prefix only

  // d on the selected token (j down to warehouse): n keeps it, y revokes it and its relay shows disconnected.
  for (const next of ["staging", "warehouse"]) {
    // j again until it lands: the first key after the form closes can arrive before ink listens again.
    for (let i = 0; i < 5 && !lastFrame()?.includes(`> ${next}`); i++) {
      stdin.write("j");
      for (let w = 0; w < 25 && !lastFrame()?.includes(`> ${next}`); w++) await tick();
    }
  }
  stdin.write("d");
  await waitFor(() => lastFrame()?.includes("[y/N]"));
  expect(lastFrame()).toContain("Revoke warehouse");
  stdin.write("n");
  await waitFor(() => lastFrame()?.includes("Not revoked"));
  expect(row(lastFrame(), "> warehouse")).toContain("active");
  expect(lastFrame()).not.toContain(secret); // shown once: gone after the next action
  stdin.write("d");
  await waitFor(() => lastFrame()?.includes("[y/N]"));
  stdin.write("y");
  await waitFor(() => row(lastFrame(), "> warehouse").includes("REVOKED"));
  frame = lastFrame() ?? "";
  expect(frame).toContain("warehouse: revoked");
  expect(row(frame, "> warehouse")).toMatch(/REVOKED \d{4}-\d\d-\d\d/);
  expect(row(frame, "  edge-eu ")).toContain("active");
  expect(row(frame, "DISCONNECTED")).toContain("warehouse");
  // The list answers the same: warehouse revoked, the others not.
  const tokens = (await services.relayTokens?.(workspace)) ?? [];
  expect(tokens.map((t) => [t.name, t.revoked_at !== null])).toEqual([
    ["edge-eu", false],
    ["staging", false],
    ["warehouse", true],
  ]);
});
