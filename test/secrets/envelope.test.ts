// Envelope encryption on both engines: every wired column round-trips through the API, tampering fails
// loudly, KEK and DEK rotation keep everything readable, and no plaintext secret is stored anywhere.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../src/http/app.ts";
import { silentLogger } from "../../src/log.ts";
import { tenantDoor, withTenant } from "../../src/db/tenant.ts";
import { offboard, onboard, type OnboardResult } from "../../src/tenancy/service.ts";
import { addKeyVersion, LocalKeyRing, loadKeyRing } from "../../src/secrets/keyring.ts";
import { dekAad, ensureActiveDek, SecretBox } from "../../src/secrets/envelope.ts";
import { rewrapAllDeks, rotateDek, rotateKek, verifyKekMatches } from "../../src/secrets/rotation.ts";
import { ENCRYPTED_COLUMNS } from "../../src/secrets/columns.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";

const key = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
let db: TestDb | undefined;
afterEach(async () => {
  await db?.dispose();
  db = undefined;
});

const SECRETS = {
  connector: "sntrys_connector_secret_value_1",
  webhook: "whsec_b3V0Ym91bmQtd2ViaG9vay1zZWNyZXQtdmFsdWUtMjI=",
  webhookPrevious: "whsec_previous_secret_during_rotation_overlap_5",
  sso: "sso_client_secret_value_333",
  totp: "JBSWY3DPEHPK3PXP_TOTP_4444",
  stream: "splunk-hec-token-value-6666",
};

async function fullFlow(d: TestDb, kek: LocalKeyRing) {
  const acme = await onboard(d.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" }, kek);
  const app = createApp({
    logger: silentLogger,
    readiness: async () => [],
    version: "t",
    bodyLimitBytes: 1 << 20,
    door: tenantDoor(d.app),
    kek,
  });
  const call = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
    app.fetch(
      new Request(`http://localhost${path}`, {
        method: body ? "POST" : "GET",
        body: body ? JSON.stringify(body) : undefined,
        headers: { authorization: `Bearer ${acme.admin_token}`, "content-type": "application/json", ...headers },
      }),
    );
  const connector = (await (
    await call("/v1/connectors", { type: "sentry", display_name: "Sentry", config: { api_token: SECRETS.connector } })
  ).json()) as { id: string; has_config: boolean };
  const webhook =
    (await // With an Idempotency-Key: the kept answer (which shows the secret once) is sealed like every secret.
    (
      await call(
        "/v1/webhooks",
        { url: "https://hooks.example.com/a", secret: SECRETS.webhook },
        { "idempotency-key": "k1" },
      )
    ).json()) as { id: string; secret: string };
  const [idem] = await d.owner.query<{ id: string }>("select id from idempotency_keys where workspace_id = $1", [
    acme.workspace_id,
  ]);
  const inbound = (await (await call("/v1/inbound-webhooks", { source: "alertmanager" })).json()) as {
    id: string;
    signing_secret: string;
    path_token: string;
  };
  const sso = (await (
    await call("/v1/sso-connections", {
      provider: "oidc",
      display_name: "Okta",
      issuer: "https://acme.okta.com",
      client_id: "cid",
      client_secret: SECRETS.sso,
    })
  ).json()) as { id: string; has_client_secret: boolean };
  // MFA factors get their routes with the identity work; the column is sealed through the same box. So is a
  // rotation's previous webhook secret (the rotation itself is tested in test/api/delivery.test.ts).
  const mfaId = "mfa_00000000000000000000000000";
  await withTenant(d.app, acme.workspace_id, async (tx) => {
    const box = new SecretBox(tx, kek, acme.workspace_id);
    const previous = await box.seal(
      { table: "webhooks", column: "secret_previous_encrypted", rowId: webhook.id },
      SECRETS.webhookPrevious,
    );
    await tx.query(
      "update webhooks set secret_previous_encrypted = $2, secret_previous_until = now() + interval '1 day' where id = $1",
      [webhook.id, previous],
    );
    const sealed = await box.seal({ table: "mfa_factors", column: "secret_encrypted", rowId: mfaId }, SECRETS.totp);
    await tx.query("insert into mfa_factors (workspace_id, id, user_id, secret_encrypted) values ($1, $2, $3, $4)", [
      acme.workspace_id,
      mfaId,
      acme.user_id,
      sealed,
    ]);
  });
  const stream = (await (
    await call("/v1/audit-streams", {
      url: "https://siem.example.com/services/collector/event",
      format: "splunk_hec",
      token: SECRETS.stream,
    })
  ).json()) as { id: string; has_token: boolean };
  return { acme, call, connector, webhook, inbound, sso, mfaId, idemId: idem?.id as string, stream };
}

async function readAll(d: TestDb, kek: LocalKeyRing, acme: OnboardResult, ids: Record<string, string>) {
  return withTenant(d.app, acme.workspace_id, async (tx) => {
    const box = new SecretBox(tx, kek, acme.workspace_id);
    const out: Record<string, string> = {};
    for (const { table, column } of ENCRYPTED_COLUMNS) {
      const id = ids[table] as string;
      const [row] = await tx.query<{ v: string }>(`select ${column} as v from ${table} where id = $1`, [id]);
      // A table's first secret column is named by the table, any other by table.column.
      out[out[table] === undefined ? table : `${table}.${column}`] = await box.open(
        { table, column, rowId: id },
        row?.v as string,
      );
    }
    return out;
  });
}

describeEngines("envelope encryption", (kind) => {
  test("every *_encrypted column round-trips, responses never return a secret after creation, and nothing is stored in plaintext", async () => {
    db = await createTestDb(kind);
    const kek = new LocalKeyRing(key());
    const flow = await fullFlow(db, kek);
    expect(flow.connector.has_config).toBe(true);
    expect(flow.webhook.secret).toBe(SECRETS.webhook); // shown once, at creation
    const ids = {
      connectors: flow.connector.id,
      webhooks: flow.webhook.id,
      inbound_webhooks: flow.inbound.id,
      sso_connections: flow.sso.id,
      mfa_factors: flow.mfaId,
      idempotency_keys: flow.idemId,
      audit_streams: flow.stream.id,
    };
    const opened = await readAll(db, kek, flow.acme, ids);
    expect(JSON.parse(opened.connectors as string)).toEqual({ api_token: SECRETS.connector });
    expect(opened).toMatchObject({
      webhooks: SECRETS.webhook,
      "webhooks.secret_previous_encrypted": SECRETS.webhookPrevious,
      inbound_webhooks: flow.inbound.signing_secret,
      sso_connections: SECRETS.sso,
      mfa_factors: SECRETS.totp,
      audit_streams: SECRETS.stream,
    });
    expect(flow.stream.has_token).toBe(true);
    expect(opened.idempotency_keys).toContain(SECRETS.webhook); // the kept answer, sealed

    const listed = JSON.stringify([
      await (await flow.call("/v1/webhooks")).json(),
      await (await flow.call(`/v1/connectors/${flow.connector.id}`)).json(),
    ]);
    for (const secret of [SECRETS.connector, SECRETS.webhook]) expect(listed).not.toContain(secret);
    expect(listed).toContain(`"secret_last4":"${SECRETS.webhook.slice(-4)}"`);

    // Dump every text, JSON and array column of every table: no plaintext secret anywhere.
    const columns = await db.owner.query<{ t: string; c: string }>(
      `select table_name::text as t, column_name::text as c from information_schema.columns
        where table_schema = current_schema() and data_type in ('text', 'jsonb', 'json', 'ARRAY', 'character varying')`,
    );
    const plaintexts = [
      ...Object.values(SECRETS),
      flow.inbound.signing_secret,
      flow.inbound.path_token,
      flow.acme.admin_token as string,
    ];
    const leaks: string[] = [];
    for (const { t, c } of columns) {
      const rows = await db.owner.query<{ v: string | null }>(`select "${c}"::text as v from "${t}"`);
      for (const row of rows) for (const p of plaintexts) if (row.v?.includes(p)) leaks.push(`${t}.${c}`);
    }
    expect(leaks).toEqual([]);
  });

  test("a flipped bit, a ciphertext moved to another row, column or workspace, or a wrong master key fails loudly", async () => {
    db = await createTestDb(kind);
    const kek = new LocalKeyRing(key());
    const flow = await fullFlow(db, kek);
    const globex = await onboard(db.owner, { slug: "globex", name: "Globex", adminEmail: "ops@globex.com" }, kek);
    const [row] = await db.owner.query<{ v: string }>("select secret_encrypted as v from webhooks where id = $1", [
      flow.webhook.id,
    ]);
    const sealed = row?.v as string;
    expect(sealed).toMatch(/^clp1\.1\./);
    const ctx = { table: "webhooks", column: "secret_encrypted", rowId: flow.webhook.id };
    await withTenant(db.app, flow.acme.workspace_id, async (tx) => {
      const box = new SecretBox(tx, kek, flow.acme.workspace_id);
      const last = sealed.at(-2) === "A" ? "B" : "A";
      const flipped = `${sealed.slice(0, -2)}${last}${sealed.at(-1)}`;
      expect(box.open(ctx, flipped)).rejects.toThrow(/cannot be decrypted/);
      expect(box.open({ ...ctx, rowId: "whk_00000000000000000000000000" }, sealed)).rejects.toThrow(
        /cannot be decrypted/,
      );
      expect(box.open({ ...ctx, column: "url" }, sealed)).rejects.toThrow(/cannot be decrypted/);
    });
    await withTenant(db.app, globex.workspace_id, async (tx) => {
      expect(new SecretBox(tx, kek, globex.workspace_id).open(ctx, sealed)).rejects.toThrow(/cannot be decrypted/);
    });
    const wrong = new LocalKeyRing(key());
    expect(verifyKekMatches(db.app, wrong)).rejects.toThrow(/does not match/);
    await withTenant(db.app, flow.acme.workspace_id, async (tx) => {
      expect(new SecretBox(tx, wrong, flow.acme.workspace_id).open(ctx, sealed)).rejects.toThrow(/does not match/);
    });
  });

  test("every *_encrypted column of the schema is wired (listed for sealing and DEK rotation)", async () => {
    db = await createTestDb(kind);
    const columns = await db.owner.query<{ t: string; c: string }>(
      "select table_name::text as t, column_name::text as c from information_schema.columns where table_schema = current_schema() and column_name like '%\\_encrypted' order by 1, 2",
    );
    expect(columns.map((r) => `${r.t}.${r.c}`)).toEqual(ENCRYPTED_COLUMNS.map((e) => `${e.table}.${e.column}`).sort());
  });

  test("concurrent first uses create exactly one active data key", async () => {
    db = await createTestDb(kind);
    const kek = new LocalKeyRing(key());
    const acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" });
    const d = db;
    const versions = await Promise.all(
      Array.from({ length: 6 }, () =>
        withTenant(d.app, acme.workspace_id, (tx) => ensureActiveDek(tx, kek, acme.workspace_id)).then(
          (k) => k.version,
        ),
      ),
    );
    expect(new Set(versions).size).toBe(1);
    const rows = await db.owner.query("select 1 from workspace_keys where workspace_id = $1", [acme.workspace_id]);
    expect(rows.length).toBe(1);
  });

  test("rotate-kek, then a ring with only the new key still opens everything", async () => {
    db = await createTestDb(kind);
    const oldKey = key();
    const flow = await fullFlow(db, new LocalKeyRing(`v1:${oldKey}`));
    const ids = {
      connectors: flow.connector.id,
      webhooks: flow.webhook.id,
      inbound_webhooks: flow.inbound.id,
      sso_connections: flow.sso.id,
      mfa_factors: flow.mfaId,
      idempotency_keys: flow.idemId,
      audit_streams: flow.stream.id,
    };
    const ringText = addKeyVersion(`v1:${oldKey}`);
    const rotated = new LocalKeyRing(ringText);
    expect(rotated.currentVersion).toBe(2);
    expect(await rewrapAllDeks(db.owner, rotated)).toEqual({ rewrapped: 1, alreadyCurrent: 0 });
    expect(await rewrapAllDeks(db.owner, rotated)).toEqual({ rewrapped: 0, alreadyCurrent: 1 });
    const onlyNew = new LocalKeyRing(ringText.split(",")[0] as string);
    expect(onlyNew.versions).toEqual([2]);
    await verifyKekMatches(db.app, onlyNew);
    expect((await readAll(db, onlyNew, flow.acme, ids)).webhooks).toBe(SECRETS.webhook);
  });

  test("rotate-dek interrupted half-way and run again leaves every secret readable under the new key", async () => {
    db = await createTestDb(kind);
    const kek = new LocalKeyRing(key());
    const flow = await fullFlow(db, kek);
    const ids = {
      connectors: flow.connector.id,
      webhooks: flow.webhook.id,
      inbound_webhooks: flow.inbound.id,
      sso_connections: flow.sso.id,
      mfa_factors: flow.mfaId,
      idempotency_keys: flow.idemId,
      audit_streams: flow.stream.id,
    };
    expect(
      rotateDek(db.owner, kek, flow.acme.workspace_id, {
        onProgress: () => {
          throw new Error("killed");
        },
      }),
    ).rejects.toThrow("killed");
    const done = await rotateDek(db.owner, kek, flow.acme.workspace_id);
    expect(done.newVersion).toBe(2);
    expect(done.destroyed).toBe(1);
    const keys = await db.owner.query<{ version: number; status: string; wrapped_dek: string }>(
      "select version, status, wrapped_dek from workspace_keys where workspace_id = $1 order by version",
      [flow.acme.workspace_id],
    );
    expect(keys.map((k) => `${k.version}:${k.status}`)).toEqual(["1:destroyed", "2:active"]);
    expect(keys[0]?.wrapped_dek).toBe("");
    const opened = await readAll(db, kek, flow.acme, ids);
    expect(opened.webhooks).toBe(SECRETS.webhook);
    expect(opened.mfa_factors).toBe(SECRETS.totp);
    for (const { table, column } of ENCRYPTED_COLUMNS) {
      const [row] = await db.owner.query<{ v: string }>(`select ${column} as v from ${table} where id = $1`, [
        ids[table],
      ]);
      expect(row?.v).toStartWith("clp1.2.");
    }
  });
});

describe("key ring", () => {
  test("a bad master key is one clear error without key material", () => {
    for (const [text, message] of [
      ["", /empty/],
      ["dG9vc2hvcnQ=", /32 bytes/],
      [`v1:${key()},v1:${key()}`, /unique/],
      [`x:${key()},v2:${key()}`, /v<N>:<base64>/],
    ] as const) {
      expect(() => new LocalKeyRing(text)).toThrow(message);
    }
  });

  test("embedded mode generates master.key with mode 0600 once and reuses it; PostgreSQL mode requires a key", () => {
    const dir = mkdtempSync(join(tmpdir(), "causeloop-kek-"));
    try {
      const first = loadKeyRing({ env: {}, dataDir: dir, embedded: true });
      const file = join(dir, "master.key");
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const text = readFileSync(file, "utf8");
      loadKeyRing({ env: {}, dataDir: dir, embedded: true });
      expect(readFileSync(file, "utf8")).toBe(text);
      expect(first.currentVersion).toBe(1);
      expect(() => loadKeyRing({ env: {}, embedded: false })).toThrow(/CAUSELOOP_MASTER_KEY/);
      expect(loadKeyRing({ env: { CAUSELOOP_MASTER_KEY: `v7:${key()}` }, embedded: false }).currentVersion).toBe(7);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeEngines("crypto-shredding", (kind) => {
  test("a copy of the database taken before a purge cannot open the purged workspace's secrets with the current key ring", async () => {
    db = await createTestDb(kind);
    const dir = mkdtempSync(join(tmpdir(), "causeloop-shred-"));
    try {
      const ringFile = join(dir, "master.key");
      writeFileSync(ringFile, `v1:${key()}\n`, { mode: 0o600 });
      const ring = loadKeyRing({ env: { CAUSELOOP_MASTER_KEY_FILE: ringFile }, embedded: false });
      const acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" }, ring);
      const globex = await onboard(db.owner, { slug: "globex", name: "Globex", adminEmail: "ops@globex.com" }, ring);
      const ctx = { table: "connectors", column: "config_encrypted", rowId: "con_00000000000000000000000000" };
      const sealFor = (ws: string) =>
        withTenant(db?.app as TestDb["app"], ws, (tx) => new SecretBox(tx, ring, ws).seal(ctx, `secret-of-${ws}`));
      const acmeSecret = await sealFor(acme.workspace_id);
      const globexSecret = await sealFor(globex.workspace_id);
      // The "backup": every data key row as it was before the purge.
      const backup = await db.owner.query<{
        workspace_id: string;
        version: number;
        kek_version: number;
        wrapped_dek: string;
      }>("select workspace_id, version, kek_version, wrapped_dek from workspace_keys");

      await offboard(db.owner, "acme", "purge");
      const rotation = await rotateKek(db.owner, ring, { generate: true });
      expect(rotation.kekVersions).toEqual([2]);
      expect(readFileSync(ringFile, "utf8").trim()).toStartWith("v2:");

      const current = loadKeyRing({ env: { CAUSELOOP_MASTER_KEY_FILE: ringFile }, embedded: false });
      const acmeKey = backup.find((k) => k.workspace_id === acme.workspace_id);
      expect(
        current.unwrap(acmeKey?.wrapped_dek as string, acmeKey?.kek_version as number, dekAad(acme.workspace_id, 1)),
      ).rejects.toThrow(/not in the key ring/);
      // The live database still opens the remaining tenant's secrets with the current ring.
      const opened = await withTenant(db.app, globex.workspace_id, (tx) =>
        new SecretBox(tx, current, globex.workspace_id).open(ctx, globexSecret),
      );
      expect(opened).toBe(`secret-of-${globex.workspace_id}`);
      expect(acmeSecret).toStartWith("clp1.1.");
      expect(await db.owner.query("select 1 from workspace_keys where workspace_id = $1", [acme.workspace_id])).toEqual(
        [],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
