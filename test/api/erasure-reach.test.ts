// Where an erasure must also reach, written as the attacks, on both engines:
// - an export archive built before the erasure holds the erased person's email: after the erasure the
//   archive is gone from storage, its signed link answers 410, the export says `revoked`, and the
//   certificate names it;
// - an export being built while the erasure commits never completes with the email in it;
// - the erased email stays in dead tuples until VACUUM: the erasure's job vacuums the touched tables through
//   the owner connection (PostgreSQL: last_vacuum set; PGlite: the email is gone from the heap files); with
//   no owner connection the request stays `pending`, doctor says so, and `rtbf vacuum` finishes it.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { compactVerify, importJWK } from "jose";
import { createApp, type HttpApp } from "../../src/http/app.ts";
import { silentLogger } from "../../src/log.ts";
import { tenantDoor } from "../../src/db/tenant.ts";
import { onboard, type OnboardResult } from "../../src/tenancy/service.ts";
import type { Engine } from "../../src/db/engine.ts";
import { approve, importHmacKey, type RtbfKeys } from "../../src/governance/rtbf.ts";
import { buildExport } from "../../src/governance/exports.ts";
import {
  vacuumFull,
  vacuumPendingErasures,
  vacuumTables,
  type MaintenanceConnection,
} from "../../src/governance/vacuum.ts";
import { Worker } from "../../src/jobs/queue.ts";
import { jobHandlers } from "../../src/jobs/registry.ts";
import { doctor } from "../../src/db/system.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";
import { testSigner } from "../helpers/signer.ts";
import { testExportStore, type TestExportStore } from "../helpers/exports.ts";

describeEngines("erasure reaches exports and dead tuples", (kind) => {
  let db: TestDb;
  let app: HttpApp;
  let acme: OnboardResult;
  let keys: RtbfKeys;
  let archives: TestExportStore;
  // As serve builds it: the owner connection, VACUUM FULL on PGlite and plain VACUUM on PostgreSQL (auto).
  const owner: MaintenanceConnection = { full: vacuumFull("auto", kind), run: (fn) => fn(db.owner) };
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await app.fetch(
      new Request(`http://localhost${path}`, {
        method,
        body: body ? JSON.stringify(body) : undefined,
        headers: { authorization: `Bearer ${acme.admin_token}`, "content-type": "application/json" },
      }),
    );
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const worker = (maintenance?: MaintenanceConnection) =>
    new Worker(db.app, jobHandlers(db.app, { exportRetentionDays: 7 }, archives.store, maintenance), silentLogger);
  const archiveText = (file: string) => gunzipSync(readFileSync(file)).toString("utf8");

  beforeAll(async () => {
    db = await createTestDb(kind);
    archives = testExportStore();
    keys = { hmacKey: await importHmacKey("rtbf-test-key"), signer: await testSigner() };
    acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" });
    const d = db;
    app = createApp({
      logger: silentLogger,
      readiness: async () => [],
      version: "t",
      bodyLimitBytes: 1 << 20,
      door: tenantDoor(db.app),
      signer: keys.signer,
      rtbf: { keys, approve: (actor, id) => approve(d.app, keys, archives.store, actor, id) },
      exports: { links: archives.links, store: archives.store, door: tenantDoor(db.app) },
    });
  });
  afterAll(async () => {
    await db.dispose();
    archives.dispose();
  });

  /** A member who reported an incident: their email is in the issues table and the members export. */
  async function subject(email: string): Promise<void> {
    const [user] = await db.owner.query<{ id: string }>(
      "insert into users (id, email) values (new_id('usr'), $1) returning id",
      [email],
    );
    await db.owner.query(
      "insert into memberships (workspace_id, id, user_id, role) values ($1, new_id('mem'), $2, 'analyst')",
      [acme.workspace_id, user?.id],
    );
    expect((await call("POST", "/v1/issues", { title: "Checkout is down", reporter_email: email })).status).toBe(201);
  }

  async function erase(email: string): Promise<{ id: string; claims: Record<string, unknown> }> {
    const id = (await call("POST", "/v1/governance/rtbf/requests", { email })).body.id as string;
    expect((await call("POST", `/v1/governance/rtbf/requests/${id}/approve`)).body.status).toBe("completed");
    const cert = (await call("GET", `/v1/governance/rtbf/requests/${id}/certificate`)).body.certificate as string;
    const { payload } = await compactVerify(cert, await importJWK(keys.signer.publicJwk, "EdDSA"));
    return { id, claims: JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown> };
  }

  test("an archive built before the erasure is deleted, its link answers 410 and the certificate names it", async () => {
    const email = "old-export@example.com";
    await subject(email);
    const exportId = (await call("POST", "/v1/governance/exports")).body.id as string;
    expect(await worker().drain()).toBe(1);
    const before = (await call("GET", `/v1/governance/exports/${exportId}`)).body as {
      status: string;
      download: { url: string };
    };
    expect(before.status).toBe("completed");
    const [row] = await db.owner.query<{ storage_key: string }>("select storage_key from export_jobs where id = $1", [
      exportId,
    ]);
    const file = row?.storage_key as string;
    expect(archiveText(file)).toContain(email); // the copy the attack is about

    const { id, claims } = await erase(email);

    expect(existsSync(file)).toBe(false);
    const link = await app.fetch(new Request(`http://localhost${before.download.url}`));
    expect(link.status).toBe(410);
    expect(link.headers.get("content-type")).toContain("application/problem+json");
    expect(((await link.json()) as { code: string }).code).toBe("gone");
    const after = (await call("GET", `/v1/governance/exports/${exportId}`)).body;
    expect(after).toMatchObject({ status: "revoked" });
    expect(after.download).toBeUndefined();
    expect(String(after.revoked_reason)).toContain(id);
    expect(JSON.stringify(after)).not.toContain(email);
    expect(claims.exports_removed).toEqual([exportId]);
    const audit = await db.owner.query(
      "select 1 from audit_log where workspace_id = $1 and action = 'export.revoked' and target_id = $2",
      [acme.workspace_id, exportId],
    );
    expect(audit).toHaveLength(1);
    const log = await db.owner.query(
      "select 1 from compliance_log where workspace_id = $1 and kind = 'export.revoked' and details->>'export_id' = $2",
      [acme.workspace_id, exportId],
    );
    expect(log).toHaveLength(1);
  });

  test("an export being built when the erasure commits is rebuilt without the erased email", async () => {
    const email = "in-flight@example.com";
    await subject(email);
    const exportId = (await call("POST", "/v1/governance/exports")).body.id as string;
    await db.owner.query("update jobs set status = 'succeeded' where status = 'queued' and kind = 'export.build'"); // built by hand below
    let erasure: { id: string; claims: Record<string, unknown> } | undefined;
    // The issues table (with the email) is read, then the erasure commits before the other tables are read.
    const built = await buildExport(db.app, acme.workspace_id, exportId, archives.store, {
      afterTable: async (table) => {
        if (table === "issues" && !erasure) erasure = await erase(email);
      },
    });
    expect(erasure?.claims.exports_invalidated).toEqual([exportId]);
    const view = (await call("GET", `/v1/governance/exports/${exportId}`)).body as { status: string; sha256: string };
    expect(view.status).toBe("completed");
    const [row] = await db.owner.query<{ storage_key: string }>("select storage_key from export_jobs where id = $1", [
      exportId,
    ]);
    const text = archiveText(row?.storage_key as string);
    expect(text).toContain("Checkout is down");
    expect(text).not.toContain(email);
    expect(built.rebuilt).toBe(1); // the first build, read partly before the erasure, was discarded
  });

  test("the erasure's job vacuums the tables it touched through the owner connection", async () => {
    const email = "dead-tuple@example.com";
    await subject(email);
    const heapFiles = async (tables: string[]) => {
      await db.owner.exec("checkpoint");
      const rows = await db.owner.query<{ path: string }>(
        "select pg_relation_filepath(c.oid) as path from pg_class c where c.relname in (select jsonb_array_elements_text($1::jsonb)) and c.relkind = 'r'",
        [JSON.stringify(tables)],
      );
      const files = rows.map((r) => join(db.dataDir as string, "pgdata", r.path)).filter((file) => existsSync(file)); // an empty table may have no file
      return files.map((file) => readFileSync(file).toString("latin1"));
    };
    const { id, claims } = await erase(email);
    const [pending] = await db.owner.query<{ vacuum_status: string; vacuum_tables: string[] }>(
      "select vacuum_status, vacuum_tables from rtbf_requests where id = $1",
      [id],
    );
    expect(pending?.vacuum_status).toBe("pending");
    expect(pending?.vacuum_tables).toEqual(expect.arrayContaining(["issues", "memberships", "rtbf_requests", "users"]));
    expect(claims.vacuum_scheduled).toEqual(pending?.vacuum_tables);
    // Erased, but still on disk in the old row versions: what the vacuum is for.
    if (kind === "pglite")
      expect((await heapFiles(pending?.vacuum_tables ?? [])).some((bytes) => bytes.includes(email))).toBe(true);

    expect(await worker(owner).drain()).toBeGreaterThanOrEqual(1);
    const [job] = await db.owner.query<{ status: string }>(
      "select status from jobs where kind = 'rtbf.vacuum' and payload->>'request_id' = $1",
      [id],
    );
    expect(job?.status).toBe("succeeded");
    const [done] = await db.owner.query<{ vacuum_status: string; vacuumed_at: Date | null }>(
      "select vacuum_status, vacuumed_at from rtbf_requests where id = $1",
      [id],
    );
    expect(done?.vacuum_status).toBe("completed");
    expect(done?.vacuumed_at).not.toBeNull();
    if (kind === "postgres") {
      const stats = await db.owner.query<{ relname: string; last_vacuum: Date | null }>(
        "select relname::text as relname, last_vacuum from pg_stat_user_tables where relname in (select jsonb_array_elements_text($1::jsonb))",
        [JSON.stringify(pending?.vacuum_tables)],
      );
      expect(stats).toHaveLength(pending?.vacuum_tables.length ?? -1);
      for (const table of stats) expect(table.last_vacuum, table.relname).not.toBeNull();
    } else {
      expect((await heapFiles(pending?.vacuum_tables ?? [])).some((bytes) => bytes.includes(email))).toBe(false);
    }
    const view = (await call("GET", `/v1/governance/rtbf/requests/${id}`)).body;
    expect(view).toMatchObject({ vacuum_status: "completed" });
  });

  test("without an owner connection the vacuum stays pending, doctor says so, and `rtbf vacuum` finishes it", async () => {
    const email = "no-owner@example.com";
    await subject(email);
    const { id } = await erase(email);
    await worker(undefined).drain(); // serve on PostgreSQL without DATABASE_OWNER_URL
    const [row] = await db.owner.query<{ vacuum_status: string }>(
      "select vacuum_status from rtbf_requests where id = $1",
      [id],
    );
    expect(row?.vacuum_status).toBe("pending");
    const report = async (engine: Engine) =>
      (await doctor(engine, { engineName: "t", runtimeRole: "current_user" })).checks.find(
        (c) => c.name === "erasures vacuumed",
      );
    expect(await report(db.app)).toMatchObject({ ok: false });
    if (kind === "postgres") {
      // The runtime role does not own the tables: a VACUUM through it would be skipped silently; it is refused.
      expect(vacuumTables(db.app, ["issues"])).rejects.toMatchObject({ code: "forbidden" });
    }
    const result = await vacuumPendingErasures(db.owner, { actor: "operator:test", full: false });
    expect(result.requests).toContain(id);
    expect(result.tables).toEqual(expect.arrayContaining(["issues", "users"]));
    expect(await report(db.app)).toMatchObject({ ok: true });
    expect(await vacuumPendingErasures(db.owner, { actor: "operator:test", full: false })).toMatchObject({
      requests: [],
    });
    // VACUUM FULL (CAUSELOOP_RTBF_VACUUM=full) rewrites the table into a new file: the old one, with any
    // pruned tuple's bytes left in free space, is unlinked.
    const filenode = async () =>
      (await db.owner.query<{ f: string }>("select pg_relation_filenode('issues')::text as f"))[0]?.f;
    const before = await filenode();
    expect(await vacuumTables(db.owner, ["issues"], true)).toMatchObject({ tables: ["issues"], full: true });
    expect(await filenode()).not.toBe(before);
  });
});
