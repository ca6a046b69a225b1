// Operator-side key management on the owner connection: status, KEK rotation (re-wrap every DEK), DEK
// rotation for one workspace (re-encrypt its secrets), and the start-up check that the KEK fits the database.
// Every step is a short transaction, so an interrupted run is simply run again.
import type { Engine, Tx } from "../db/engine.ts";
import { withTenant } from "../db/tenant.ts";
import { AppError } from "../errors.ts";
import { appendAudit } from "../audit/service.ts";
import { ENCRYPTED_COLUMNS, type EncryptedColumn } from "./columns.ts";
import { dekAad, dekVersionOf, ensureActiveDek, insertDek, mfaAad, openWith, sealWith, type Dek } from "./envelope.ts";
import { addKeyVersion, importAesKey, type KekProvider, type LocalKeyRing } from "./keyring.ts";
import { readFileSync } from "node:fs";
import { writeFileAtomically } from "../files.ts";

export interface KeyStatus {
  kekCurrentVersion: number;
  kekVersions: number[];
  deks: { kek_version: number; status: string; count: number }[];
}

export async function keyStatus(engine: Engine, kek: KekProvider): Promise<KeyStatus> {
  const deks = await engine.query<{ kek_version: number; status: string; count: number }>(
    "select kek_version, status, count(*)::int as count from workspace_keys group by 1, 2 order by 1, 2",
  );
  return { kekCurrentVersion: kek.currentVersion, kekVersions: kek.versions, deks };
}

/** At start-up: every KEK version the database uses must be in the ring and must unwrap. Writes nothing. */
export async function verifyKekMatches(engine: Engine, kek: KekProvider): Promise<void> {
  const rows = await engine.query<{ workspace_id: string; version: number; kek_version: number; wrapped_dek: string }>(
    "select * from kek_probe()",
  );
  for (const row of rows) await kek.unwrap(row.wrapped_dek, row.kek_version, dekAad(row.workspace_id, row.version));
}

/** Re-wraps every DEK not yet under the current KEK; no data is re-encrypted. Idempotent. */
export async function rewrapAllDeks(
  engine: Engine,
  kek: KekProvider,
  onProgress?: (done: number, total: number) => void,
  actor = "operator",
): Promise<{ rewrapped: number; alreadyCurrent: number }> {
  const rows = await engine.query<{
    workspace_id: string;
    id: string;
    version: number;
    kek_version: number;
    wrapped_dek: string;
  }>(
    "select workspace_id, id, version, kek_version, wrapped_dek from workspace_keys where status <> 'destroyed' order by workspace_id, version",
  );
  const stale = rows.filter((r) => r.kek_version !== kek.currentVersion);
  let done = 0;
  for (const row of stale) {
    const raw = await kek.unwrap(row.wrapped_dek, row.kek_version, dekAad(row.workspace_id, row.version));
    const wrapped = await kek.wrap(raw, dekAad(row.workspace_id, row.version));
    await engine.transaction(async (tx) => {
      await tx.query(
        "update workspace_keys set wrapped_dek = $3, kek_version = $4, rotated_at = now() where workspace_id = $1 and id = $2 and kek_version = $5",
        [row.workspace_id, row.id, wrapped, kek.currentVersion, row.kek_version],
      );
      await appendAudit(tx, {
        workspaceId: row.workspace_id,
        action: "key.kek_rewrapped",
        actorId: actor,
        actorType: "operator",
        targetType: "workspace_key",
        targetId: row.id,
        after: { dek_version: row.version, kek_version: kek.currentVersion },
      });
    });
    onProgress?.(++done, stale.length);
  }
  await rewrapAccountFactors(engine, kek);
  return { rewrapped: stale.length, alreadyCurrent: rows.length - stale.length };
}

/** Accounts' TOTP secrets are wrapped by the master key itself (they belong to no workspace): re-wrap them too. */
async function rewrapAccountFactors(engine: Engine, kek: KekProvider): Promise<void> {
  const rows = await engine.query<{ user_id: string; id: string; kek_version: number; secret_wrapped: string }>(
    "select user_id, id, kek_version, secret_wrapped from user_mfa_factors where kek_version <> $1",
    [kek.currentVersion],
  );
  for (const row of rows) {
    const raw = await kek.unwrap(row.secret_wrapped, row.kek_version, mfaAad(row.user_id, row.id));
    const wrapped = await kek.wrap(raw, mfaAad(row.user_id, row.id));
    await engine.query(
      "update user_mfa_factors set secret_wrapped = $3, kek_version = $4 where user_id = $1 and id = $2 and kek_version = $5",
      [row.user_id, row.id, wrapped, kek.currentVersion, row.kek_version],
    );
  }
}

function writeRingFile(path: string, text: string): void {
  writeFileAtomically(path, `${text}\n`);
}

/**
 * rotate-kek: re-wraps every data key under the ring's current version. With generate (file-based rings
 * only) a new version is added first and, once everything is re-wrapped, the old versions are dropped.
 */
export async function rotateKek(
  engine: Engine,
  ring: LocalKeyRing,
  options: {
    generate?: boolean;
    onProgress?: (done: number, total: number) => void;
    actor?: string;
    /**
     * Runs once every data key is under the current version, while the older versions are still in the ring
     * (with generate, they are dropped after it): backups carry their keys across here (src/backups/rekey.ts).
     */
    beforeDrop?: (ring: LocalKeyRing, dropping: number[]) => Promise<unknown>;
  } = {},
): Promise<{ rewrapped: number; alreadyCurrent: number; kekCurrentVersion: number; kekVersions: number[] }> {
  if (options.generate) {
    if (!ring.file)
      throw new AppError(
        "bad_request",
        "--generate needs a file-based key ring (the data dir's master.key or CAUSELOOP_MASTER_KEY_FILE); with CAUSELOOP_MASTER_KEY put the new key first (v2:<new>,v1:<old>) and run rotate-kek again",
      );
    const next = addKeyVersion(readFileSync(ring.file, "utf8"));
    writeRingFile(ring.file, next);
    ring.reload(next);
  }
  const result = await rewrapAllDeks(engine, ring, options.onProgress, options.actor);
  const dropping = options.generate && ring.file ? ring.versions.filter((v) => v !== ring.currentVersion) : [];
  await options.beforeDrop?.(ring, dropping);
  if (options.generate && ring.file) {
    const current = (readFileSync(ring.file, "utf8").split(",")[0] ?? "").trim();
    writeRingFile(ring.file, current);
    ring.reload(current);
  }
  return { ...result, kekCurrentVersion: ring.currentVersion, kekVersions: ring.versions };
}

const BATCH = 200;

/** Serializes the key-table steps of concurrent rotate-dek runs for one workspace (released at commit). */
async function lockRotation(tx: Tx, workspaceId: string): Promise<void> {
  await tx.query("select pg_advisory_xact_lock(hashtext($1))", [`causeloop:rotate-dek:${workspaceId}`]);
}

/**
 * Gives a workspace a new DEK and re-encrypts its secrets under it, then destroys the old DEKs.
 * Resumable: a re-run reuses the newest active DEK and only touches rows still under an older one.
 */
export async function rotateDek(
  engine: Engine,
  kek: KekProvider,
  workspaceId: string,
  options: {
    actor?: string;
    columns?: readonly EncryptedColumn[];
    onProgress?: (done: number, total: number) => void;
  } = {},
): Promise<{ reencrypted: number; newVersion: number; destroyed: number }> {
  const columns = options.columns ?? ENCRYPTED_COLUMNS;
  const exists = await engine.query("select 1 from workspaces where id = $1", [workspaceId]);
  if (!exists[0]) throw new AppError("not_found", `workspace ${workspaceId} not found`);
  const actor = options.actor ?? "operator";

  // Step 1: a new active DEK, unless an interrupted run already made one that is newer than every other.
  const active: Dek = await withTenant(engine, workspaceId, async (tx) => {
    // Two runs for one workspace line up here; the second sees the first's new DEK and reuses it.
    await lockRotation(tx, workspaceId);
    const [row] = await tx.query<{ active: number | null; newest: number }>(
      "select max(version) filter (where status = 'active')::int as active, coalesce(max(version) filter (where status <> 'destroyed'), 0)::int as newest from workspace_keys where workspace_id = $1",
      [workspaceId],
    );
    const others = await tx.query("select 1 from workspace_keys where workspace_id = $1 and status = 'retired'", [
      workspaceId,
    ]);
    if (row?.active && row.active === row.newest && others.length > 0) return ensureActiveDek(tx, kek, workspaceId);
    const [max] = await tx.query<{ v: number }>(
      "select coalesce(max(version), 0)::int as v from workspace_keys where workspace_id = $1",
      [workspaceId],
    );
    await tx.query(
      "update workspace_keys set status = 'retired', rotated_at = now() where workspace_id = $1 and status = 'active'",
      [workspaceId],
    );
    const { inserted, dek } = await insertDek(tx, kek, workspaceId, (max?.v ?? 0) + 1);
    // Never seal with a key that is not stored: that would make every re-encrypted secret unreadable.
    if (!inserted)
      throw new AppError("conflict", `another data key rotation of workspace ${workspaceId} is running; run again`);
    await appendAudit(tx, {
      workspaceId,
      action: "key.dek_rotated",
      actorId: actor,
      actorType: "operator",
      targetType: "workspace",
      targetId: workspaceId,
      after: { dek_version: dek.version },
    });
    return dek;
  });

  // Step 2: re-encrypt every secret still under an older DEK, in short batches.
  const oldKeys = new Map<number, Promise<Dek>>();
  const oldDek = (tx: Parameters<Parameters<typeof withTenant>[2]>[0], version: number) => {
    let dek = oldKeys.get(version);
    if (!dek) {
      dek = (async () => {
        const [row] = await tx.query<{ kek_version: number; wrapped_dek: string; status: string }>(
          "select kek_version, wrapped_dek, status from workspace_keys where workspace_id = $1 and version = $2",
          [workspaceId, version],
        );
        if (!row || row.status === "destroyed")
          throw new AppError("internal", `data key v${version} is gone; secrets under it cannot be re-encrypted`);
        return {
          version,
          key: await importAesKey(await kek.unwrap(row.wrapped_dek, row.kek_version, dekAad(workspaceId, version))),
        };
      })();
      oldKeys.set(version, dek);
    }
    return dek;
  };
  const prefix = `clp1.${active.version}.`;
  const total = (
    await Promise.all(
      columns.map(
        async (c) =>
          (
            await engine.query<{ n: number }>(
              `select count(*)::int as n from ${c.table} where workspace_id = $1 and ${c.column} is not null and ${c.column} not like $2`,
              [workspaceId, `${prefix}%`],
            )
          )[0]?.n ?? 0,
      ),
    )
  ).reduce((a, b) => a + b, 0);
  let done = 0;
  const reencrypt = async () => {
    for (const c of columns) {
      for (;;) {
        const moved = await withTenant(engine, workspaceId, async (tx) => {
          const rows = await tx.query<{ id: string; value: string }>(
            `select id, ${c.column} as value from ${c.table} where workspace_id = $1 and ${c.column} is not null and ${c.column} not like $2 order by id limit ${BATCH}`,
            [workspaceId, `${prefix}%`],
          );
          for (const row of rows) {
            const ctx = { table: c.table, column: c.column, rowId: row.id };
            const plain = await openWith(await oldDek(tx, dekVersionOf(row.value)), workspaceId, ctx, row.value);
            await tx.query(`update ${c.table} set ${c.column} = $3 where workspace_id = $1 and id = $2`, [
              workspaceId,
              row.id,
              await sealWith(active, workspaceId, ctx, plain),
            ]);
          }
          return rows.length;
        });
        done += moved;
        if (moved > 0) options.onProgress?.(done, total);
        if (moved < BATCH) break;
      }
    }
  };

  // Step 3: destroy only the retired DEKs no row of any encrypted column still names; a writer that committed
  // after step 2 scanned its table sends us back to step 2 rather than losing its secret.
  const allColumns = [
    ...new Map([...ENCRYPTED_COLUMNS, ...columns].map((c) => [`${c.table}.${c.column}`, c])).values(),
  ];
  let destroyed = 0;
  for (let pass = 0; ; pass++) {
    await reencrypt();
    const outcome = await withTenant(engine, workspaceId, async (tx) => {
      await lockRotation(tx, workspaceId);
      const retired = await tx.query<{ version: number }>(
        "select version from workspace_keys where workspace_id = $1 and status = 'retired' for update",
        [workspaceId],
      );
      const stillUsed = new Set<number>();
      for (const c of allColumns) {
        const rows = await tx.query<{ v: number }>(
          `select distinct split_part(${c.column}, '.', 2)::int as v from ${c.table} where workspace_id = $1 and ${c.column} like 'clp1.%' and ${c.column} not like $2`,
          [workspaceId, `${prefix}%`],
        );
        for (const r of rows) stillUsed.add(r.v);
      }
      const unused = retired.map((r) => r.version).filter((v) => !stillUsed.has(v));
      const rows = unused.length
        ? await tx.query(
            "update workspace_keys set status = 'destroyed', destroyed_at = now(), wrapped_dek = '' where workspace_id = $1 and status = 'retired' and version = any($2::int[]) returning id",
            [workspaceId, unused],
          )
        : [];
      if (rows.length)
        await appendAudit(tx, {
          workspaceId,
          action: "key.dek_destroyed",
          actorId: actor,
          actorType: "operator",
          targetType: "workspace",
          targetId: workspaceId,
          after: { destroyed: rows.length },
        });
      return { destroyed: rows.length, remaining: retired.length - rows.length };
    });
    destroyed += outcome.destroyed;
    if (outcome.remaining === 0) break;
    if (pass >= 2)
      throw new AppError(
        "conflict",
        `secrets of workspace ${workspaceId} are still being written under a retired data key; run rotate-dek again`,
      );
  }
  return { reencrypted: done, newVersion: active.version, destroyed };
}
