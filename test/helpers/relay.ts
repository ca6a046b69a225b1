// The relay's test stack: a customer's PostgreSQL 16 database (its own database and a read-only role on the
// test run's server), a real HTTP server carrying the app and the relay hub (Bun.serve with the hub's
// WebSocket, as `serve` wires it), and a real relay agent dialling it.
import postgres from "postgres";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server } from "bun";
import { createApp, type AppDeps, type HttpApp } from "../../src/http/app.ts";
import { silentLogger } from "../../src/log.ts";
import { tenantDoor } from "../../src/db/tenant.ts";
import type { Engine } from "../../src/db/engine.ts";
import { createRelayHub, type RelayHub } from "../../src/relay/hub/hub.ts";
import { parseRelayConfig } from "../../src/relay/agent/config.ts";
import { type RunningRelay, startRelay } from "../../src/relay/agent/agent.ts";
import { postgresServer } from "./postgres-server.ts";

let counter = 0;

export interface CustomerDb {
  /** The relay's read-only role. */
  readerUrl: string;
  /** A role that may write the customer's tables (for tests of the start-up refusal and the database layer). */
  writerUrl: string;
  ownerUrl: string;
  name: string;
  dispose(): Promise<void>;
}

/** A customer's database: customers (with personal data), orders, and a secrets table the policy forbids. */
export async function customerDatabase(): Promise<CustomerDb> {
  const server = await postgresServer();
  const n = `${process.pid}_${++counter}`;
  const name = `customer_${n}`;
  const admin = postgres(server.superuserUrl(), { onnotice: () => {}, max: 1 });
  await admin.unsafe(`create database ${name}`);
  await admin.unsafe(`do $$ begin
      if not exists (select from pg_roles where rolname = 'relay_reader') then create role relay_reader login password 'reader-pw'; end if;
      if not exists (select from pg_roles where rolname = 'relay_writer') then create role relay_writer login password 'writer-pw'; end if;
    end $$`);
  await admin.end();
  const ownerUrl = server.superuserUrl(name);
  const owner = postgres(ownerUrl, { onnotice: () => {}, max: 1 });
  await owner.unsafe(`
    create table customers (id int primary key, name text, email text, phone text, card text, notes text, created_at timestamptz default '2026-01-02T03:04:05Z');
    create table orders (id int primary key, customer_id int references customers, total numeric(10,2), status text);
    create table secrets (id int primary key, value text);
    insert into customers values
      (1, 'Ada Lovelace', 'ada@example.com', '+44 20 7946 0958', '4111 1111 1111 1111', 'called from 203.0.113.7 about invoice 2291'),
      (2, 'Grace Hopper', 'grace@example.org', '+1 415 555 2671', '5500 0000 0000 0004', 'prefers email: grace.h@example.org'),
      (3, 'Alan Turing', 'alan@example.net', '+33 1 42 68 53 00', '3400 0000 0000 009', 'no notes');
    insert into orders select g, 1 + g % 3, (g * 7 % 500) + 0.99, case when g % 5 = 0 then 'refunded' else 'paid' end from generate_series(1, 3000) g;
    insert into secrets values (1, 'the launch codes');
    grant usage on schema public to relay_reader, relay_writer;
    grant select on customers, orders to relay_reader;
    grant select, insert, update, delete on customers, orders, secrets to relay_writer;`);
  await owner.end();
  const roleUrl = (role: string, password: string) => {
    const url = new URL(ownerUrl);
    url.username = role;
    url.password = password;
    return url.toString();
  };
  return {
    name,
    ownerUrl,
    readerUrl: roleUrl("relay_reader", "reader-pw"),
    writerUrl: roleUrl("relay_writer", "writer-pw"),
    dispose: async () => {
      const drop = postgres(server.superuserUrl(), { onnotice: () => {}, max: 1 });
      await drop.unsafe(`drop database if exists ${name} with (force)`);
      await drop.end();
    },
  };
}

export interface HubServer {
  url: string;
  app: HttpApp;
  hub: RelayHub;
  server: Server<unknown>;
  stop(): Promise<void>;
}

/** The app with a relay hub on a real socket, wired as `serve` wires it. */
export async function serveWithHub(engine: Engine, deps: AppDeps): Promise<HubServer> {
  const hub = createRelayHub({ engine, door: tenantDoor(engine), logger: silentLogger });
  const app = createApp({ ...deps, relayHub: hub });
  await hub.start();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    websocket: hub.websocket,
    fetch: async (request, srv) => {
      const peer = srv.requestIP(request)?.address;
      if (
        request.headers.get("upgrade")?.toLowerCase() === "websocket" &&
        new URL(request.url).pathname === "/v1/relay/connect"
      )
        return hub.upgrade(request, srv, peer);
      return app.fetch(request, peer);
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    app,
    hub,
    server: server as unknown as Server<unknown>,
    stop: async () => {
      await hub.stop();
      server.stop(true);
    },
  };
}

export interface TestRelay extends RunningRelay {
  dir: string;
  auditLog: string;
}

/** A relay agent in this process, with a relay.json as a client would write it. */
export async function runRelay(
  server: string,
  token: string,
  customer: CustomerDb,
  extra: Record<string, unknown> = {},
) {
  const dir = mkdtempSync(join(tmpdir(), "causeloop-relay-"));
  const config = parseRelayConfig(
    {
      server,
      token,
      databases: [{ name: "main", kind: "postgres", url: customer.readerUrl }],
      policy: {
        postgres: {
          tables: { allow: ["public.customers", "public.orders"], deny: ["public.secrets"] },
          columns: { deny: ["public.customers.card"], on_denied: "mask" },
        },
      },
      masking: {},
      ...extra,
    },
    dir,
    {},
  );
  const relay = await startRelay(config, silentLogger);
  await relay.connected;
  return Object.assign(relay, {
    dir,
    auditLog: config.audit_log,
    dispose: async () => {
      await relay.stop("test over");
      rmSync(dir, { recursive: true, force: true });
    },
  });
}
