// DEK rotation across several batches, interrupted and resumed; retired vs destroyed data keys; key status and
// the start-up KEK check on both engines. Complements envelope.test.ts, which drives the same code via the API.
import { afterEach, expect, test } from "bun:test";
import { withTenant } from "../../src/db/tenant.ts";
import { isAppError } from "../../src/errors.ts";
import { newId } from "../../src/ids.ts";
import { SecretBox, dekVersionOf, isCiphertext } from "../../src/secrets/envelope.ts";
import { LocalKeyRing } from "../../src/secrets/keyring.ts";
import { keyStatus, rewrapAllDeks, rotateDek, verifyKekMatches } from "../../src/secrets/rotation.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";
import { createTenant } from "../helpers/tenants.ts";

const key = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
const WEBHOOK = { table: "webhooks", column: "secret_encrypted" } as const;
const CONNECTOR = { table: "connectors", column: "config_encrypted" } as const;
const COLUMNS = [WEBHOOK, CONNECTOR] as const;

let db: TestDb | undefined;
afterEach(async () => {
  await db?.dispose();
  db = undefined;
});

interface Seeded {
  webhooks: string[];
  connectors: string[];
}

/** Seals one secret per row through a tenant transaction, then inserts it; plaintext is derived from the id. */
async function seed(d: TestDb, kek: LocalKeyRing, ws: string, webhooks: number, connectors: number): Promise<Seeded> {
  return withTenant(d.app, ws, async (tx) => {
    const box = new SecretBox(tx, kek, ws);
    const out: Seeded = { webhooks: [], connectors: [] };
    for (let i = 0; i < webhooks; i++) {
      const id = newId("whk");
      const sealed = await box.seal({ ...WEBHOOK, rowId: id }, `secret-${id}`);
      await tx.query(
        "insert into webhooks (workspace_id, id, url, secret_encrypted) values ($1, $2, 'https://hooks.example.com/x', $3)",
        [ws, id, sealed],
      );
      out.webhooks.push(id);
    }
    for (let i = 0; i < connectors; i++) {
      const id = newId("con");
      const sealed = await box.seal({ ...CONNECTOR, rowId: id }, `secret-${id}`);
      await tx.query(
        "insert into connectors (workspace_id, id, type, display_name, config_encrypted) values ($1, $2, 'sentry', 'Sentry', $3)",
        [ws, id, sealed],
      );
      out.connectors.push(id);
    }
    return out;
  });
}

/** Opens every seeded secret with a fresh box; returns the DEK version each ciphertext names. */
async function openAll(d: TestDb, kek: LocalKeyRing, ws: string, seeded: Seeded): Promise<number[]> {
  return withTenant(d.app, ws, async (tx) => {
    const box = new SecretBox(tx, kek, ws);
    const versions: number[] = [];
    for (const [col, ids] of [
      [WEBHOOK, seeded.webhooks],
      [CONNECTOR, seeded.connectors],
    ] as const) {
      for (const id of ids) {
        const [row] = await tx.query<{ v: string }>(
          `select ${col.column} as v from ${col.table} where workspace_id = $1 and id = $2`,
          [ws, id],
        );
        const value = row?.v as string;
        expect(isCiphertext(value)).toBe(true);
        expect(await box.open({ ...col, rowId: id }, value)).toBe(`secret-${id}`);
        versions.push(dekVersionOf(value));
      }
    }
    return versions;
  });
}

const keysOf = (d: TestDb, ws: string) =>
  d.owner.query<{ version: number; status: string; wrapped_dek: string; destroyed_at: Date | null }>(
    "select version, status, wrapped_dek, destroyed_at from workspace_keys where workspace_id = $1 order by version",
    [ws],
  );

describeEngines("DEK rotation, resumed", (kind) => {
  test("interrupted after the first batch, a re-run reuses the new DEK, finishes, and destroys the old one", async () => {
    db = await createTestDb(kind);
    const kek = new LocalKeyRing(key());
    const { workspaceId: ws } = await createTenant(db.owner);
    const { workspaceId: other } = await createTenant(db.owner);
    // 450 webhook rows: three batches of at most 200, so the interruption lands mid-column.
    const seeded = await seed(db, kek, ws, 450, 3);
    const bystander = await seed(db, kek, other, 2, 1);

    let calls = 0;
    const killed = rotateDek(db.owner, kek, ws, {
      columns: COLUMNS,
      onProgress: () => {
        calls++;
        throw new Error("killed after first batch");
      },
    });
    await expect(killed).rejects.toThrow("killed after first batch");
    expect(calls).toBe(1);

    // Half-way: v2 active, v1 retired (still unwrappable), rows under both versions, all readable.
    expect((await keysOf(db, ws)).map((k) => `${k.version}:${k.status}`)).toEqual(["1:retired", "2:active"]);
    const midway = await openAll(db, kek, ws, seeded);
    expect(midway.filter((v) => v === 2).length).toBe(200);
    expect(midway.filter((v) => v === 1).length).toBe(253);

    const done = await rotateDek(db.owner, kek, ws, { columns: COLUMNS });
    expect(done).toEqual({ reencrypted: 253, newVersion: 2, destroyed: 1 });
    const keys = await keysOf(db, ws);
    expect(keys.map((k) => `${k.version}:${k.status}`)).toEqual(["1:destroyed", "2:active"]);
    expect(keys[0]?.wrapped_dek).toBe("");
    expect(keys[0]?.destroyed_at).not.toBeNull();
    expect(new Set(await openAll(db, kek, ws, seeded))).toEqual(new Set([2]));

    // The other workspace was not touched.
    expect((await keysOf(db, other)).map((k) => `${k.version}:${k.status}`)).toEqual(["1:active"]);
    expect(new Set(await openAll(db, kek, other, bystander))).toEqual(new Set([1]));
  });

  test("a retired DEK still opens; a destroyed one fails loudly without leaking the plaintext", async () => {
    db = await createTestDb(kind);
    const kek = new LocalKeyRing(key());
    const { workspaceId: ws } = await createTenant(db.owner);
    const seeded = await seed(db, kek, ws, 1, 0);
    await db.owner.query("update workspace_keys set status = 'retired' where workspace_id = $1", [ws]);
    expect(await openAll(db, kek, ws, seeded)).toEqual([1]);

    await db.owner.query(
      "update workspace_keys set status = 'destroyed', wrapped_dek = '', destroyed_at = now() where workspace_id = $1",
      [ws],
    );
    const id = seeded.webhooks[0] as string;
    const error = await withTenant(db.app, ws, async (tx) => {
      const [row] = await tx.query<{ v: string }>("select secret_encrypted as v from webhooks where id = $1", [id]);
      return new SecretBox(tx, kek, ws).open({ ...WEBHOOK, rowId: id }, row?.v as string).then(
        () => undefined,
        (e: unknown) => e,
      );
    });
    expect(isAppError(error) && error.code).toBe("internal");
    expect((error as Error).message).toMatch(/cannot be decrypted/);
    expect((error as Error).message).not.toContain(`secret-${id}`);
  });

  test("key status counts DEKs by KEK version; the start-up check rejects a ring missing a version and writes nothing", async () => {
    db = await createTestDb(kind);
    const oldKey = key();
    const v1 = new LocalKeyRing(`v1:${oldKey}`);
    const { workspaceId: a } = await createTenant(db.owner);
    const { workspaceId: b } = await createTenant(db.owner);
    const seededA = await seed(db, v1, a, 1, 1);
    await seed(db, v1, b, 1, 0);
    expect(await keyStatus(db.owner, v1)).toEqual({
      kekCurrentVersion: 1,
      kekVersions: [1],
      deks: [{ kek_version: 1, status: "active", count: 2 }],
    });

    const onlyV2 = new LocalKeyRing(`v2:${key()}`);
    const before = await db.owner.query(
      "select workspace_id, version, kek_version, wrapped_dek, status from workspace_keys order by 1, 2",
    );
    const missing = await verifyKekMatches(db.owner, onlyV2).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isAppError(missing) && missing.code).toBe("config_invalid");
    expect((missing as Error).message).toMatch(/version 1/);
    expect((missing as Error).message).not.toContain(oldKey);
    expect(
      await db.owner.query(
        "select workspace_id, version, kek_version, wrapped_dek, status from workspace_keys order by 1, 2",
      ),
    ).toEqual(before);

    // Rotate the KEK with a progress callback, then the new-only ring is accepted and opens everything.
    const newKey = key();
    const ring = new LocalKeyRing(`v2:${newKey},v1:${oldKey}`);
    const progress: string[] = [];
    expect(await rewrapAllDeks(db.owner, ring, (done, total) => progress.push(`${done}/${total}`))).toEqual({
      rewrapped: 2,
      alreadyCurrent: 0,
    });
    expect(progress).toEqual(["1/2", "2/2"]);
    const newOnly = new LocalKeyRing(`v2:${newKey}`);
    await verifyKekMatches(db.owner, newOnly);
    expect((await keyStatus(db.owner, newOnly)).deks).toEqual([{ kek_version: 2, status: "active", count: 2 }]);
    expect(new Set(await openAll(db, newOnly, a, seededA))).toEqual(new Set([1]));
  });
});
