// Tenant export on both engines: requested through the API, built by the queue's worker, downloaded through
// a signed expiring link; the archive has every table with a manifest of counts and checksums, and no secret.
import { loadContract } from "../helpers/contract.ts";
import { afterAll, beforeAll, expect, test } from "bun:test";
// s3rver (an S3 emulator, dev dependency) serves the bucket for the S3 test.
import { gunzipSync } from "node:zlib";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp, type HttpApp } from "../../src/http/app.ts";
import { silentLogger } from "../../src/log.ts";
import { tenantDoor } from "../../src/db/tenant.ts";
import { offboard, onboard, restore, type OnboardResult } from "../../src/tenancy/service.ts";
import { LocalKeyRing } from "../../src/secrets/keyring.ts";
import { exportLinks } from "../../src/governance/export-links.ts";
import { localStore, s3Store } from "../../src/governance/storage.ts";
import { Worker } from "../../src/jobs/queue.ts";
import { jobHandlers } from "../../src/jobs/registry.ts";
import { EXPORT_TABLES, expireExports } from "../../src/governance/exports.ts";
import { createTestDb, describeEngines, ENGINES, type TestDb } from "../helpers/db.ts";
import { approve, importHmacKey } from "../../src/governance/rtbf.ts";
import { testSigner } from "../helpers/signer.ts";

function untar(archive: Buffer): Map<string, string> {
  const files = new Map<string, string>();
  const tar = gunzipSync(archive);
  for (let offset = 0; offset + 512 <= tar.length; ) {
    const name = tar
      .subarray(offset, offset + 100)
      .toString("utf8")
      .replace(/\0.*$/s, "");
    if (!name) break;
    const size = Number.parseInt(
      tar
        .subarray(offset + 124, offset + 136)
        .toString("utf8")
        .replace(/\0.*$/s, "")
        .trim(),
      8,
    );
    files.set(name, tar.subarray(offset + 512, offset + 512 + size).toString("utf8"));
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

describeEngines("tenant export", (kind) => {
  let db: TestDb;
  let app: HttpApp;
  let acme: OnboardResult;
  let root: string;
  let worker: Worker;
  let store: ReturnType<typeof localStore>;
  const call = async (method: string, path: string, body?: unknown) =>
    app.fetch(
      new Request(`http://localhost${path}`, {
        method,
        body: body ? JSON.stringify(body) : undefined,
        headers: { authorization: `Bearer ${acme.admin_token}`, "content-type": "application/json" },
      }),
    );

  beforeAll(async () => {
    db = await createTestDb(kind);
    root = mkdtempSync(join(tmpdir(), "causeloop-exports-"));
    const kek = new LocalKeyRing(Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"));
    acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" }, kek);
    const links = exportLinks(new TextEncoder().encode("export-link-secret-0123456789"), 15);
    store = localStore(root, links);
    app = createApp({
      logger: silentLogger,
      readiness: async () => [],
      version: "t",
      bodyLimitBytes: 1 << 20,
      door: tenantDoor(db.app),
      kek,
      exports: { links, store, door: tenantDoor(db.app) },
    });
    worker = new Worker(db.app, jobHandlers(db.app, { exportRetentionDays: 7 }, store), silentLogger);
    for (let i = 0; i < 30; i++)
      await call("POST", "/v1/issues", { title: `Incident ${i}`, reporter_email: `r${i}@example.com` });
    await call("POST", "/v1/connectors", {
      type: "sentry",
      display_name: "Sentry",
      config: { api_token: "sntrys_export_secret_value" },
    });
    await call("POST", "/v1/webhooks", {
      url: "https://hooks.example.com/x",
      secret: "whsec_export_secret_value_0123",
    });
  });
  afterAll(async () => {
    await db.dispose();
    rmSync(root, { recursive: true, force: true });
  });

  test("export: queued, built by the worker, downloaded through an expiring signed link, complete and secret-free", async () => {
    const requested = await call("POST", "/v1/governance/exports");
    expect(requested.status).toBe(202);
    const id = ((await requested.json()) as { id: string; status: string }).id;
    expect(await worker.drain()).toBe(1);
    const view = (await (await call("GET", `/v1/governance/exports/${id}`)).json()) as {
      status: string;
      size_bytes: number;
      sha256: string;
      download: { url: string; expires_at: string };
    };
    expect(view.status).toBe("completed");
    expect(new Date(view.download.expires_at).getTime() - Date.now()).toBeLessThanOrEqual(15 * 60_000 + 1000);
    const download = await app.fetch(new Request(`http://localhost${view.download.url}`));
    expect(download.status).toBe(200);
    const contract = await loadContract(app);
    const route = "/v1/exports/:id/download";
    expect(contract.check("GET", route, 200, download.headers.get("content-type"), "archive")).toEqual([]);
    const archive = Buffer.from(await download.arrayBuffer());
    expect(archive.length).toBe(view.size_bytes);
    expect(new Bun.CryptoHasher("sha256").update(archive).digest("hex")).toBe(view.sha256);
    // The download is in the compliance log: who took a copy of the tenant's data is evidence.
    const logged = await db.owner.query<{ details: { export_id: string; sha256: string } }>(
      "select details from compliance_log where workspace_id = $1 and kind = 'export.downloaded'",
      [acme.workspace_id],
    );
    expect(logged.map((r) => r.details.export_id)).toEqual([id]);
    expect(logged[0]?.details.sha256).toBe(view.sha256);

    const files = untar(archive);
    const manifest = JSON.parse(files.get("manifest.json") as string) as {
      tables: { name: string; file: string; rows: number; sha256: string }[];
    };
    expect(manifest.tables.map((t) => t.name)).toEqual(EXPORT_TABLES.map((t) => t.name));
    for (const table of manifest.tables) {
      const body = files.get(table.file) as string;
      expect(new Bun.CryptoHasher("sha256").update(body).digest("hex")).toBe(table.sha256);
      expect(body.split("\n").filter(Boolean)).toHaveLength(table.rows);
    }
    expect(manifest.tables.find((t) => t.name === "issues")?.rows).toBe(30);
    const everything = [...files.values()].join("\n");
    for (const secret of [
      "sntrys_export_secret_value",
      "whsec_export_secret_value_0123",
      "clp1.",
      "pat_hash",
      "password_hash",
      "_encrypted",
    ])
      expect(everything).not.toContain(secret);

    const tampered = view.download.url.replace(/sig=[^&]+/, "sig=AAAA");
    const refused = await app.fetch(new Request(`http://localhost${tampered}`));
    expect(refused.status).toBe(403);
    expect(contract.check("GET", route, 403, refused.headers.get("content-type"), await refused.text())).toEqual([]);
    const alias = await call("POST", "/v1/gdpr/export-requests", { format: "json" });
    expect(alias.status).toBe(202);
  });

  test("a soft-offboarded tenant's signed download link is refused (403 workspace_disabled) until it is restored", async () => {
    const kek = new LocalKeyRing(Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"));
    const globex = await onboard(db.owner, { slug: "globex", name: "Globex", adminEmail: "ops@globex.com" }, kek);
    const as = (path: string, method = "GET") =>
      app.fetch(
        new Request(`http://localhost${path}`, { method, headers: { authorization: `Bearer ${globex.admin_token}` } }),
      );
    const id = ((await (await as("/v1/governance/exports", "POST")).json()) as { id: string }).id;
    await worker.drain();
    const view = (await (await as(`/v1/governance/exports/${id}`)).json()) as {
      status: string;
      sha256: string;
      download: { url: string };
    };
    expect(view.status).toBe("completed");
    const link = () => app.fetch(new Request(`http://localhost${view.download.url}`));
    expect((await link()).status).toBe(200);

    await offboard(db.owner, "globex", "soft", "operator:test");
    const refused = await link();
    expect(refused.status).toBe(403);
    expect(refused.headers.get("content-type")).toContain("application/problem+json");
    expect(((await refused.json()) as { code: string }).code).toBe("workspace_disabled");

    await restore(db.owner, "globex", "operator:test");
    const served = await link();
    expect(served.status).toBe(200);
    expect(new Bun.CryptoHasher("sha256").update(Buffer.from(await served.arrayBuffer())).digest("hex")).toBe(
      view.sha256,
    );
  });

  test("a job whose worker died is taken over once its lease expires", async () => {
    const requested = (await (await call("POST", "/v1/governance/exports")).json()) as { id: string };
    // What a killed process leaves: the job claimed with a lease, and nobody extending it.
    expect((await db.app.query("select * from claim_jobs('worker-killed', 5, 1)")).length).toBeGreaterThanOrEqual(1);
    expect(await worker.drain()).toBe(0); // the lease still runs
    await Bun.sleep(1500);
    expect(await worker.drain()).toBeGreaterThanOrEqual(1);
    const view = (await (await call("GET", `/v1/governance/exports/${requested.id}`)).json()) as { status: string };
    expect(view.status).toBe("completed");
  });

  test("a live worker keeps a job that outlasts its lease; no other worker runs it twice", async () => {
    await db.owner.query("update jobs set status = 'succeeded' where status in ('queued', 'running')"); // earlier tests' leftovers
    const requested = (await (await call("POST", "/v1/governance/exports")).json()) as { id: string };
    const runs: string[] = [];
    const real = jobHandlers(db.app, { exportRetentionDays: 7 }, store);
    // A 2 s lease renewed every 0.67 s (room for a stall on a busy machine), a job of 4.5 s.
    const slow = new Worker(
      db.app,
      { "export.build": async (job) => (runs.push("slow"), await Bun.sleep(4500), real["export.build"]?.(job)) },
      silentLogger,
      { leaseSeconds: 2 },
    );
    const other = new Worker(
      db.app,
      { "export.build": async (job) => (runs.push("other"), real["export.build"]?.(job)) },
      silentLogger,
      { leaseSeconds: 2 },
    );
    const first = slow.drain();
    await Bun.sleep(100);
    for (let i = 0; i < 16; i++) {
      await other.drain(); // 4 s of attempts, most past the 2 s lease a dead worker would have lost
      await Bun.sleep(250);
    }
    expect(await first).toBe(1);
    expect(runs).toEqual(["slow"]);
    const view = (await (await call("GET", `/v1/governance/exports/${requested.id}`)).json()) as { status: string };
    expect(view.status).toBe("completed");
  });
});

test("exports to an S3-compatible bucket: the link is a presigned URL and expiry deletes the object", async () => {
  const { default: S3rver } = await import("s3rver");
  const dir = mkdtempSync(join(tmpdir(), "causeloop-s3-"));
  const s3 = new S3rver({
    port: 0,
    address: "127.0.0.1",
    directory: dir,
    silent: true,
    configureBuckets: [{ name: "exports", configs: [] }],
  });
  const { port } = await s3.run();
  const db = await createTestDb("postgres");
  try {
    const acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" });
    const store = s3Store(
      {
        bucket: "exports",
        endpoint: `http://127.0.0.1:${port}`,
        region: "us-east-1",
        accessKeyId: "S3RVER",
        secretAccessKey: "S3RVER",
        prefix: "causeloop/",
      },
      15,
    );
    const app = createApp({
      logger: silentLogger,
      readiness: async () => [],
      version: "t",
      bodyLimitBytes: 1 << 20,
      door: tenantDoor(db.app),
      exports: {
        links: exportLinks(new TextEncoder().encode("s3-link-secret-0123456789"), 15),
        store,
        door: tenantDoor(db.app),
      },
    });
    const call = async (method: string, path: string) =>
      (
        await app.fetch(
          new Request(`http://localhost${path}`, { method, headers: { authorization: `Bearer ${acme.admin_token}` } }),
        )
      ).json() as Promise<Record<string, unknown>>;
    const id = (await call("POST", "/v1/governance/exports")).id as string;
    await new Worker(db.app, jobHandlers(db.app, { exportRetentionDays: 7 }, store), silentLogger).drain();
    const view = (await call("GET", `/v1/governance/exports/${id}`)) as {
      status: string;
      sha256: string;
      download: { url: string };
    };
    expect(view.status).toBe("completed");
    expect(view.download.url).toContain("X-Amz-Signature=");
    const archive = Buffer.from(await (await fetch(view.download.url)).arrayBuffer());
    expect(new Bun.CryptoHasher("sha256").update(archive).digest("hex")).toBe(view.sha256);
    expect(untar(archive).has("manifest.json")).toBe(true);
    await db.owner.query("update export_jobs set expires_at = now() - interval '1 minute' where id = $1", [id]);
    expect(await expireExports(db.app, store)).toEqual({ expired: 1 });
    expect((await fetch(view.download.url)).status).toBe(404);
  } finally {
    await db.dispose();
    await s3.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const kind of ENGINES) {
  test(`[${kind}] an erasure deletes the S3 object of an export that held the erased email; its presigned URL stops working`, async () => {
    const { default: S3rver } = await import("s3rver");
    const dir = mkdtempSync(join(tmpdir(), "causeloop-s3-"));
    const s3 = new S3rver({
      port: 0,
      address: "127.0.0.1",
      directory: dir,
      silent: true,
      configureBuckets: [{ name: "exports", configs: [] }],
    });
    const { port } = await s3.run();
    const db = await createTestDb(kind);
    try {
      const acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" });
      const store = s3Store(
        {
          bucket: "exports",
          endpoint: `http://127.0.0.1:${port}`,
          region: "us-east-1",
          accessKeyId: "S3RVER",
          secretAccessKey: "S3RVER",
          prefix: "causeloop/",
        },
        15,
      );
      const keys = { hmacKey: await importHmacKey("rtbf-s3-key"), signer: await testSigner() };
      const app = createApp({
        logger: silentLogger,
        readiness: async () => [],
        version: "t",
        bodyLimitBytes: 1 << 20,
        door: tenantDoor(db.app),
        signer: keys.signer,
        rtbf: { keys, approve: (actor, id) => approve(db.app, keys, store, actor, id) },
        exports: {
          links: exportLinks(new TextEncoder().encode("s3-link-secret-0123456789"), 15),
          store,
          door: tenantDoor(db.app),
        },
      });
      const call = async (method: string, path: string, body?: unknown) =>
        (
          await app.fetch(
            new Request(`http://localhost${path}`, {
              method,
              body: body ? JSON.stringify(body) : undefined,
              headers: { authorization: `Bearer ${acme.admin_token}`, "content-type": "application/json" },
            }),
          )
        ).json() as Promise<Record<string, unknown>>;
      await call("POST", "/v1/issues", { title: "Login fails", reporter_email: "s3-subject@example.com" });
      const id = (await call("POST", "/v1/governance/exports")).id as string;
      await new Worker(db.app, jobHandlers(db.app, { exportRetentionDays: 7 }, store), silentLogger).drain();
      const view = (await call("GET", `/v1/governance/exports/${id}`)) as { status: string; download: { url: string } };
      expect(view.status).toBe("completed");
      expect(untar(Buffer.from(await (await fetch(view.download.url)).arrayBuffer())).get("issues.ndjson")).toContain(
        "s3-subject@example.com",
      );

      const request = (await call("POST", "/v1/governance/rtbf/requests", { email: "s3-subject@example.com" }))
        .id as string;
      expect((await call("POST", `/v1/governance/rtbf/requests/${request}/approve`)).status).toBe("completed");
      expect((await fetch(view.download.url)).status).toBe(404); // the object is gone from the bucket
      expect(await call("GET", `/v1/governance/exports/${id}`)).toMatchObject({ status: "revoked" });
      expect((await call("GET", `/v1/governance/rtbf/requests/${request}`)).result).toMatchObject({
        exports_removed: [id],
      });
    } finally {
      await db.dispose();
      await s3.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
