// 003's right-to-be-forgotten story through the API on both engines: submit, duplicate 409, approve, the
// subject's data gone or pseudonymized in every mapped column, certificate verified offline, illegal
// transitions 409; a crash mid-erasure leaves the request processing and the scheduler's job finishes it.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { compactVerify, importJWK } from "jose";
import { createApp, type HttpApp } from "../../src/http/app.ts";
import { silentLogger } from "../../src/log.ts";
import { tenantDoor } from "../../src/db/tenant.ts";
import { onboard, type OnboardResult } from "../../src/tenancy/service.ts";
import type { Signer } from "../../src/audit/signing.ts";
import { approve, executeErasure, importHmacKey, resumeProcessing, type RtbfKeys } from "../../src/governance/rtbf.ts";
import { ERASURE_MAP, NOT_PERSONAL, PERSONAL_COLUMN } from "../../src/governance/erasure-map.ts";
import { newPat } from "../../src/identity/tokens.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";
import { testSigner } from "../helpers/signer.ts";
import { testExportStore } from "../helpers/exports.ts";

const archives = testExportStore();

describeEngines("right to be forgotten", (kind) => {
  let db: TestDb;
  let app: HttpApp;
  let acme: OnboardResult;
  let signer: Signer;
  let keys: RtbfKeys;
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

  beforeAll(async () => {
    db = await createTestDb(kind);
    signer = await testSigner();
    keys = { hmacKey: await importHmacKey("rtbf-test-key"), signer };
    acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" });
    const d = db;
    app = createApp({
      logger: silentLogger,
      readiness: async () => [],
      version: "t",
      bodyLimitBytes: 1 << 20,
      door: tenantDoor(db.app),
      signer,
      rtbf: { keys, approve: (actor, id) => approve(d.app, keys, archives.store, actor, id) },
    });
  });
  afterAll(() => db.dispose());

  /** The subject: a member with a token, a session, MFA, issues reported and created, activity. */
  async function subject(email: string): Promise<string> {
    const [user] = await db.owner.query<{ id: string }>(
      "insert into users (id, email) values (new_id('usr'), $1) returning id",
      [email],
    );
    const uid = user?.id as string;
    const ws = acme.workspace_id;
    await db.owner.query(
      "insert into memberships (workspace_id, id, user_id, role) values ($1, new_id('mem'), $2, 'analyst')",
      [ws, uid],
    );
    const pat = newPat(ws);
    await db.owner.query(
      "insert into personal_access_tokens (workspace_id, id, user_id, name, token_prefix, pat_hash, role) values ($1, new_id('pat'), $2, 't', $3, $4, 'analyst')",
      [ws, uid, pat.prefix, pat.hash],
    );
    await db.owner.query(
      "insert into sessions (workspace_id, id, user_id, family_id, refresh_token_hash, idle_expires_at, absolute_expires_at) values ($1, new_id('ses'), $2, 'f', $3, now() + interval '1 day', now() + interval '2 days')",
      [ws, uid, "b".repeat(64)],
    );
    await db.owner.query(
      "insert into mfa_factors (workspace_id, id, user_id, secret_encrypted) values ($1, new_id('mfa'), $2, 'clp1.1.x.y')",
      [ws, uid],
    );
    await db.owner.query(
      "insert into issues (workspace_id, id, title, reporter_email, created_by) values ($1, new_id('iss'), 'Reported by subject', $2, 'usr_other'), ($1, new_id('iss'), 'Created by subject', 'someone@else.com', $3)",
      [ws, email, uid],
    );
    await db.owner.query(
      "insert into activity_events (workspace_id, id, actor_id, kind) values ($1, new_id('act'), $2, 'issue.viewed')",
      [ws, uid],
    );
    return uid;
  }

  test("submit, duplicate 409, approve, erased everywhere, signed certificate verified offline", async () => {
    const uid = await subject("jane@example.com");
    const submitted = await call("POST", "/v1/governance/rtbf/requests", {
      email: "Jane@Example.com",
      mode: "erasure",
      reason: "Art. 17 request by email",
    });
    expect(submitted.status).toBe(201);
    expect(submitted.body).toMatchObject({ status: "received", mode: "erasure" });
    expect(String(submitted.body.subject_ref)).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(submitted.body)).not.toContain("jane@");
    expect(
      new Date(submitted.body.due_at as string).getTime() - new Date(submitted.body.received_at as string).getTime(),
    ).toBe(30 * 86_400_000);
    const id = submitted.body.id as string;
    expect((await call("POST", "/v1/governance/rtbf/requests", { email: "jane@example.com" })).status).toBe(409);
    expect((await call("GET", `/v1/governance/rtbf/requests/${id}/certificate`)).status).toBe(409);

    const approved = await call("POST", `/v1/governance/rtbf/requests/${id}/approve`);
    expect(approved.status).toBe(200);
    expect(approved.body.status).toBe("completed");
    expect((await call("POST", `/v1/governance/rtbf/requests/${id}/reject`, { reason: "too late" })).status).toBe(409);

    const ws = acme.workspace_id;
    for (const table of ["memberships", "personal_access_tokens", "sessions", "mfa_factors"]) {
      expect(
        await db.owner.query(`select 1 from ${table} where workspace_id = $1 and user_id = $2`, [ws, uid]),
      ).toEqual([]);
    }
    expect(
      await db.owner.query(
        "select 1 from issues where workspace_id = $1 and (reporter_email = 'jane@example.com' or created_by = $2)",
        [ws, uid],
      ),
    ).toEqual([]);
    expect(
      (
        await db.owner.query<{ created_by: string }>(
          "select created_by from issues where workspace_id = $1 and title = 'Created by subject'",
          [ws],
        )
      )[0]?.created_by,
    ).toMatch(/^erased:[0-9a-f]{16}$/);
    expect(
      await db.owner.query("select 1 from activity_events where workspace_id = $1 and actor_id = $2", [ws, uid]),
    ).toEqual([]);
    expect(await db.owner.query("select 1 from users where id = $1 or email = 'jane@example.com'", [uid])).toEqual([]);
    expect(
      await db.owner.query("select 1 from rtbf_requests where subject_email is not null and id = $1", [id]),
    ).toEqual([]);

    const cert = await call("GET", `/v1/governance/rtbf/requests/${id}/certificate`);
    expect(cert.status).toBe(200);
    const jwks = (await (await app.fetch(new Request("http://localhost/.well-known/jwks.json"))).json()) as {
      keys: Record<string, string>[];
    };
    const key = await importJWK(jwks.keys[0] as Record<string, string>, "EdDSA");
    const { payload } = await compactVerify(cert.body.certificate as string, key);
    const claims = JSON.parse(new TextDecoder().decode(payload)) as {
      request_id: string;
      subject_ref: string;
      workspace_id: string;
      erased: { table: string; rows: number }[];
    };
    expect(claims).toMatchObject({ request_id: id, subject_ref: submitted.body.subject_ref, workspace_id: ws });
    expect(claims.erased.find((e) => e.table === "memberships")?.rows).toBe(1);
    const tampered = (cert.body.certificate as string).replace(
      /\.([^.]+)\./,
      (_, p: string) => `.${p.slice(0, -2)}AA.`,
    );
    expect(compactVerify(tampered, key)).rejects.toThrow();
  });

  test("reject needs a reason, hold and verify follow the state machine, illegal transitions are 409", async () => {
    const r = await call("POST", "/v1/governance/rtbf/requests", { email: "bob@example.com" });
    const id = r.body.id as string;
    expect((await call("POST", `/v1/governance/rtbf/requests/${id}/reject`, {})).status).toBe(422);
    expect(
      (await call("POST", `/v1/governance/rtbf/requests/${id}/hold`, { reason: "identity not yet confirmed" })).body
        .status,
    ).toBe("on_hold");
    expect((await call("POST", `/v1/governance/rtbf/requests/${id}/verify`)).body.status).toBe("verifying");
    const rejected = await call("POST", `/v1/governance/rtbf/requests/${id}/reject`, {
      reason: "not a data subject of this workspace",
    });
    expect(rejected.body).toMatchObject({ status: "rejected", status_reason: "not a data subject of this workspace" });
    expect((await call("POST", `/v1/governance/rtbf/requests/${id}/approve`)).status).toBe(409);
    expect((await call("POST", "/v1/governance/rtbf/requests", { email: "bob@example.com" })).status).toBe(201); // a closed request allows a new one
    const log = await db.owner.query<{ n: number }>(
      "select count(*)::int as n from compliance_log where workspace_id = $1 and kind = 'rtbf.transition'",
      [acme.workspace_id],
    );
    expect(log[0]?.n).toBeGreaterThanOrEqual(8);
  });

  test("a crash mid-erasure rolls back, leaves the request processing, and the scheduler's job finishes it", async () => {
    const uid = await subject("crash@example.com");
    const r = await call("POST", "/v1/governance/rtbf/requests", { email: "crash@example.com" });
    const id = r.body.id as string;
    const actor = {
      workspaceId: acme.workspace_id,
      actorId: acme.user_id as string,
      actorType: "user" as const,
      context: {},
    };
    await db.app.transaction(async () => {}); // keep the engine warm
    await db.owner.query("update rtbf_requests set status = 'processing' where id = $1", [id]);
    expect(
      executeErasure(db.app, keys, archives.store, actor, id, {
        afterTable: async (t) => {
          if (t === "issues") throw new Error("killed");
        },
      }),
    ).rejects.toThrow("killed");
    expect(
      (await db.owner.query<{ status: string }>("select status from rtbf_requests where id = $1", [id]))[0]?.status,
    ).toBe("processing");
    expect((await db.owner.query("select 1 from memberships where user_id = $1", [uid])).length).toBe(1); // rolled back
    expect(await resumeProcessing(db.app, keys, archives.store)).toEqual({ resumed: 1 });
    expect(
      (await db.owner.query<{ status: string }>("select status from rtbf_requests where id = $1", [id]))[0]?.status,
    ).toBe("completed");
    expect(await db.owner.query("select 1 from users where id = $1", [uid])).toEqual([]);
  });

  test("every column whose name suggests personal data is in the erasure map or explained", async () => {
    const columns = await db.owner.query<{ t: string; c: string }>(
      "select table_name::text as t, column_name::text as c from information_schema.columns where table_schema = current_schema() order by 1, 2",
    );
    const mapped = new Set(ERASURE_MAP.map((r) => `${r.table}.${r.column}`));
    const missing = columns
      .map((r) => `${r.t}.${r.c}`)
      .filter(
        (name) => PERSONAL_COLUMN.test(name.split(".")[1] as string) && !mapped.has(name) && !(name in NOT_PERSONAL),
      );
    expect(missing).toEqual([]);
  });
});
