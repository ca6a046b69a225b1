// Data-key rotation racing real work (PostgreSQL, where transactions truly overlap): two rotations of one
// workspace, and a request sealing a secret under the old key while a rotation runs, never lose a secret.
import { afterEach, expect, test } from "bun:test";
import { withTenant } from "../../src/db/tenant.ts";
import { LocalKeyRing } from "../../src/secrets/keyring.ts";
import { SecretBox } from "../../src/secrets/envelope.ts";
import { rotateDek } from "../../src/secrets/rotation.ts";
import { newId } from "../../src/ids.ts";
import { createTestDb, type TestDb } from "../helpers/db.ts";
import { createTenant } from "../helpers/tenants.ts";

let db: TestDb | undefined;
afterEach(async () => {
  await db?.dispose();
  db = undefined;
});
const COLUMNS = [{ table: "webhooks", column: "secret_encrypted" }] as const;
const ctx = (id: string) => ({ table: "webhooks", column: "secret_encrypted", rowId: id });

async function seed(d: TestDb, kek: LocalKeyRing, ws: string, n: number): Promise<string[]> {
  return withTenant(d.owner, ws, async (tx) => {
    const box = new SecretBox(tx, kek, ws);
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = newId("whk");
      ids.push(id);
      await tx.query(
        "insert into webhooks (workspace_id, id, url, secret_encrypted) values ($1, $2, 'https://x.example', $3)",
        [ws, id, await box.seal(ctx(id), `s-${id}`)],
      );
    }
    return ids;
  });
}

async function unreadable(d: TestDb, kek: LocalKeyRing, ws: string, ids: string[]): Promise<string[]> {
  return withTenant(d.owner, ws, async (tx) => {
    const box = new SecretBox(tx, kek, ws);
    const bad: string[] = [];
    for (const id of ids) {
      const [row] = await tx.query<{ v: string }>(
        "select secret_encrypted as v from webhooks where workspace_id = $1 and id = $2",
        [ws, id],
      );
      const opened = await box.open(ctx(id), row?.v as string).catch((e: Error) => e.message);
      if (opened !== `s-${id}`) bad.push(id);
    }
    return bad;
  });
}

test("two concurrent rotations of one workspace lose no secret", async () => {
  db = await createTestDb("postgres");
  const kek = new LocalKeyRing(Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"));
  const { workspaceId: ws } = await createTenant(db.owner);
  const ids = await seed(db, kek, ws, 30);
  const results = await Promise.allSettled([
    rotateDek(db.owner, kek, ws, { columns: COLUMNS }),
    rotateDek(db.owner, kek, ws, { columns: COLUMNS }),
  ]);
  expect(results.some((r) => r.status === "fulfilled")).toBe(true);
  for (const r of results) if (r.status === "rejected") expect((r.reason as { code?: string }).code).toBe("conflict");
  expect(await unreadable(db, kek, ws, ids)).toEqual([]);
});

test("a request sealing under the old key while a rotation runs keeps its secret", async () => {
  db = await createTestDb("postgres");
  const d = db;
  const kek = new LocalKeyRing(Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"));
  const { workspaceId: ws } = await createTenant(db.owner);
  await seed(db, kek, ws, 3);
  const id = newId("whk");
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  let sealed: () => void = () => {};
  const ready = new Promise<void>((resolve) => (sealed = resolve));
  const request = withTenant(d.app, ws, async (tx) => {
    const box = new SecretBox(tx, kek, ws);
    await tx.query(
      "insert into webhooks (workspace_id, id, url, secret_encrypted) values ($1, $2, 'https://x.example', $3)",
      [ws, id, await box.seal(ctx(id), `s-${id}`)],
    );
    sealed();
    await gate;
  });
  await ready;
  const rotation = rotateDek(d.owner, kek, ws, { columns: COLUMNS });
  await Bun.sleep(300);
  release();
  await request;
  await rotation;
  expect(await unreadable(d, kek, ws, [id])).toEqual([]);
});
