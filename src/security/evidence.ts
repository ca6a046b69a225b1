// `causeloop evidence`: one signed bundle an auditor can read, mapping SOC 2 criteria to the evidence this
// installation holds for a period. Every file is listed in manifest.json with its SHA-256; manifest.sig.json
// is the audit key's Ed25519 signature over manifest.json's bytes; jwks.json is the public key (verify with
// the one published at /.well-known/jwks.json to prove origin). index.html and controls/*.html render it
// without any external asset. `causeloop evidence verify` checks the signature and every file's hash.
import { VERSION, BUILD } from "../version.ts";
import type { Config } from "../config.ts";
import type { Engine } from "../db/engine.ts";
import { migrationStatus } from "../db/migrate.ts";
import { checkRole, doctor } from "../db/system.ts";
import { APP_ROLE, withTenant } from "../db/tenant.ts";
import { verifyEverything } from "../audit/all-chains.ts";
import { alertsInPeriod, type AlertView } from "./alerts.ts";
import { verifyWithJwk, type Signer } from "../audit/signing.ts";
import { AppError } from "../errors.ts";
import { ENVIRONMENT } from "../config.ts";
import { embeddedFile, writeFileAtomically } from "../files.ts";

type Result = "pass" | "fail" | "not configured" | "info";
interface Check {
  what: string;
  when: string;
  result: Result;
  detail: string;
}
interface Control {
  id: string;
  title: string;
  evidence: string[];
  checks: Check[];
}

const SECRET_SETTINGS = /KEY|SECRET|PASSWORD|TOKEN|DATABASE_URL|DATABASE_OWNER_URL/;

/** The effective configuration: every variable Causeloop reads, secrets replaced by whether they are set. */
function effectiveConfiguration(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(ENVIRONMENT)) {
    const value = env[name];
    if (value === undefined || value === "") out[name] = `(default: ${ENVIRONMENT[name as keyof typeof ENVIRONMENT]})`;
    else out[name] = SECRET_SETTINGS.test(name) ? "(set, redacted)" : value;
  }
  return out;
}

const html = (text: string) =>
  text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${html(title)}</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#111}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}
.pass{color:#0a6b2b;font-weight:600}.fail{color:#b00020;font-weight:600}.nc{color:#8a5a00;font-weight:600}
code{background:#f3f3f3;padding:0 .2em}</style></head><body>${body}</body></html>\n`;
}

const badge = (r: Result) =>
  `<span class="${r === "pass" ? "pass" : r === "fail" ? "fail" : "nc"}">${html(r.toUpperCase())}</span>`;

export interface EvidenceOptions {
  from: Date;
  to: Date;
  env: Record<string, string | undefined>;
}

/** Builds the pack: returns its files (path -> bytes), the manifest and signature included. */
export async function buildEvidence(
  engine: Engine,
  config: Config,
  signer: Signer,
  options: EvidenceOptions,
): Promise<Map<string, Uint8Array>> {
  if (!(options.from < options.to)) throw new AppError("bad_request", "--from must be before --to");
  const now = new Date().toISOString();
  const period = { from: options.from.toISOString(), to: options.to.toISOString() };
  const json = (value: unknown) => new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
  const files = new Map<string, Uint8Array>();

  // --- gather
  const doctorReport = await doctor(engine, {
    engineName: engine.kind,
    runtimeRole: APP_ROLE,
  });
  const role = await checkRole(engine, APP_ROLE);
  const audit = await verifyEverything(engine, signer);
  const migrations = await migrationStatus(engine);
  const operatorLog = async (actions: string[]) =>
    engine.query<{ seq: string; action: string; actor_id: string; created_at: Date; after: unknown }>(
      `select seq::text as seq, action, actor_id, created_at, after from operator_log
        where action = any($1) and created_at >= $2 and created_at < $3 order by seq`,
      [actions, period.from, period.to],
    );
  const attestations = await operatorLog(["isolation.attested", "isolation.attestation_failed"]);
  const keyRotations = await operatorLog(["key.kek_rotated"]);
  const changes = await operatorLog(["migration.applied", "role.setup"]);
  const backupRuns = await operatorLog(["backup.created", "backup.failed", "backup.verified", "backup.restored"]);
  const workspaces = await engine.query<{ id: string; slug: string; org: string }>(
    "select w.id, w.slug, o.slug as org from workspaces w join organizations o on o.id = w.organization_id order by o.slug, w.slug",
  );
  const access: unknown[] = [];
  const governance: unknown[] = [];
  let members = 0;
  let membersWithMfa = 0;
  let overdueErasures = 0;
  const alerts: (AlertView & { workspace: string; workspace_id: string })[] = [];
  for (const w of workspaces) {
    await withTenant(engine, w.id, async (tx) => {
      const people = await tx.query<{ user_id: string; role: string; status: string }>(
        "select m.user_id, m.role, m.status from memberships m where m.deleted_at is null order by m.role",
      );
      const tokens = await tx.query<Record<string, unknown>>(
        `select id, name, role, scopes, created_at, last_used_at, expires_at, revoked_at,
                extract(day from now() - created_at)::int as age_days
           from personal_access_tokens order by created_at`,
      );
      const active = people.filter((p) => p.status === "active");
      const byRole: Record<string, number> = {};
      for (const p of active) byRole[p.role] = (byRole[p.role] ?? 0) + 1;
      access.push({
        workspace: `${w.org}/${w.slug}`,
        workspace_id: w.id,
        members_by_role: byRole,
        active_members: active.map((p) => p.user_id),
        personal_access_tokens: tokens,
      });
      const erasures = await tx.query<{
        id: string;
        status: string;
        received_at: Date;
        due_at: Date;
        completed_at: Date | null;
      }>(
        `select id, status, received_at, due_at, completed_at from rtbf_requests
          where received_at < $2 and (completed_at is null or completed_at >= $1) order by received_at`,
        [period.from, period.to],
      );
      const judged = erasures.map((e) => {
        const deadline = new Date(e.due_at).getTime();
        const done = e.completed_at ? new Date(e.completed_at).getTime() : undefined;
        const met = done !== undefined ? done <= deadline : Date.now() <= deadline ? "open" : false;
        if (met === false) overdueErasures++;
        return { ...e, deadline_met: met };
      });
      const log = await tx.query<{ kind: string; created_at: Date; details: unknown }>(
        `select kind, created_at, details from compliance_log
          where created_at >= $1 and created_at < $2 and kind in ('retention.run', 'retention.changed', 'export.created', 'export.downloaded', 'offboarding')
          order by created_at`,
        [period.from, period.to],
      );
      governance.push({
        workspace: `${w.org}/${w.slug}`,
        workspace_id: w.id,
        erasure_requests: judged,
        compliance_log: log,
      });
      const raised = await alertsInPeriod(tx, "security_alerts", period);
      for (const alert of raised) alerts.push({ workspace: `${w.org}/${w.slug}`, workspace_id: w.id, ...alert });
    });
  }
  // Second factors are account-level (a global table the runtime role does not read): asked as the owner,
  // outside any tenant transaction, then counted per workspace.
  const everyone = [...new Set(access.flatMap((a) => (a as { active_members: string[] }).active_members))];
  const enrolled = new Set(
    everyone.length === 0
      ? []
      : (
          await engine.query<{ user_id: string }>(
            "select user_id from user_mfa_factors where confirmed_at is not null and user_id = any($1)",
            [everyone],
          )
        ).map((r) => r.user_id),
  );
  for (const entry of access as { active_members: string[]; mfa_coverage?: string }[]) {
    const withMfa = entry.active_members.filter((id) => enrolled.has(id)).length;
    members += entry.active_members.length;
    membersWithMfa += withMfa;
    entry.mfa_coverage = `${withMfa}/${entry.active_members.length}`;
  }
  const scan = embeddedFile("dependency-scan");
  const sbom = embeddedFile("sbom.cdx");

  // --- evidence files
  files.set("evidence/doctor.json", json(doctorReport));
  files.set("evidence/runtime-role.json", json(role));
  files.set("evidence/audit-verification.json", json(audit));
  files.set("evidence/migrations.json", json({ ledger: migrations, changes_in_period: changes }));
  files.set("evidence/attestations.json", json(attestations));
  files.set("evidence/access.json", json(access));
  files.set("evidence/key-rotations.json", json(keyRotations));
  files.set("evidence/governance.json", json(governance));
  files.set("evidence/configuration.json", json(effectiveConfiguration(options.env)));
  files.set(
    "evidence/dependency-scan.json",
    scan ? await scan.bytes() : json({ status: "not recorded", reason: "this binary carries no scan result" }),
  );
  if (sbom) files.set("evidence/sbom.cdx.json", await sbom.bytes());
  // Backups exist on the embedded engine (`causeloop backup`, `backup verify`); no schedule or drill yet.
  const backupsMade = backupRuns.filter((r) => r.action === "backup.created").length;
  const verified = backupRuns.filter((r) => r.action === "backup.verified");
  const verifiedOk = verified.filter((r) => (r.after as { ok?: boolean } | null)?.ok !== false).length;
  files.set(
    "evidence/backups.json",
    json({
      note: "backups, verifications and restores recorded in the operator log in the period; scheduled backups and drills are not part of this release yet",
      runs: backupRuns,
    }),
  );
  const operatorAlerts = await alertsInPeriod(engine, "operator_alerts", period);
  files.set("evidence/alerts.json", json({ operator: operatorAlerts, workspaces: alerts }));
  // An alert left open for over a week without acknowledgement is a monitoring control that did not operate.
  const stale = [...operatorAlerts, ...alerts].filter(
    (a) => a.status === "open" && Date.now() - new Date(a.first_seen_at).getTime() > 7 * 86_400_000,
  );

  // --- controls
  const failedAttestations = attestations.filter((a) => a.action === "isolation.attestation_failed").length;
  const check = (what: string, result: Result, detail: string, when = now): Check => ({ what, when, result, detail });
  const controls: Control[] = [
    {
      id: "CC6.1",
      title: "Logical access security: tenant isolation",
      evidence: ["evidence/doctor.json", "evidence/runtime-role.json", "evidence/attestations.json"],
      checks: [
        check(
          "Row-Level Security enabled, forced and complete on every tenant table",
          doctorReport.protectedTables === doctorReport.tenantTables ? "pass" : "fail",
          `${doctorReport.protectedTables}/${doctorReport.tenantTables} tenant tables protected`,
        ),
        check(
          "Runtime role neither superuser nor BYPASSRLS",
          role.ok ? "pass" : "fail",
          role.problems.join("; ") || role.role,
        ),
        check(
          "Continuous isolation attestations in the period",
          attestations.length === 0 ? "not configured" : failedAttestations === 0 ? "pass" : "fail",
          `${attestations.length} attestations, ${failedAttestations} failed`,
        ),
      ],
    },
    {
      id: "CC6.2",
      title: "Access provisioning and review: members, roles, MFA, tokens",
      evidence: ["evidence/access.json"],
      checks: [
        check(
          "Multi-factor coverage of active members",
          members === 0 ? "info" : membersWithMfa === members ? "pass" : "info",
          `${membersWithMfa}/${members} active members with a confirmed second factor`,
        ),
        check("Personal access tokens listed with scopes, age and last use", "info", `${workspaces.length} workspaces`),
      ],
    },
    {
      id: "CC7.2",
      title: "Monitoring: the tamper-evident audit trail",
      evidence: ["evidence/audit-verification.json"],
      checks: [
        check(
          "Every workspace's hash chain and the operator log verify, with their signed checkpoints",
          audit.ok ? "pass" : "fail",
          `${audit.workspaces.length} workspaces${audit.operator_log ? " and the operator log" : ""}`,
        ),
      ],
    },
    {
      id: "CC7.3",
      title: "Security events: alerts raised, acknowledged or resolved",
      evidence: ["evidence/alerts.json"],
      checks: [
        check(
          "Every security alert of the period acknowledged or resolved within a week",
          stale.length === 0 ? "pass" : "fail",
          `${operatorAlerts.length + alerts.length} alerts in the period (${operatorAlerts.length} the operator's), ${stale.length} open for over a week`,
        ),
      ],
    },
    {
      id: "CC8.1",
      title: "Change management: migrations and dependencies",
      evidence: [
        "evidence/migrations.json",
        "evidence/dependency-scan.json",
        ...(sbom ? ["evidence/sbom.cdx.json"] : []),
      ],
      checks: [
        check(
          "Migration ledger with checksums; no applied file changed",
          migrations.every((m) => m.state === "applied") ? "pass" : "fail",
          `${migrations.length} migrations, ${changes.length} schema or role changes in the period`,
        ),
        check(
          "Dependency scan and SBOM of this build",
          scan ? "info" : "not configured",
          scan ? "scan result embedded at build" : "no scan result carried by this binary",
        ),
      ],
    },
    {
      id: "C1.1",
      title: "Confidentiality: envelope encryption and key rotation",
      evidence: ["evidence/key-rotations.json", "evidence/configuration.json"],
      checks: [check("Master key rotations in the period", "info", `${keyRotations.length} rotations`)],
    },
    {
      id: "A1.2",
      title: "Availability: backups and restore drills",
      evidence: ["evidence/backups.json"],
      checks: [
        check(
          "Backups taken and verified by restoring them in the period",
          backupsMade === 0
            ? "not configured"
            : verified.length === 0
              ? "info"
              : verifiedOk === verified.length
                ? "pass"
                : "fail",
          `${backupsMade} backups, ${verified.length} verifications (${verified.length - verifiedOk} failed); scheduled backups and drills are not built yet`,
        ),
      ],
    },
    {
      id: "P4-P8",
      title: "Privacy: retention, erasure deadlines, exports",
      evidence: ["evidence/governance.json"],
      checks: [
        check(
          "Erasure requests completed within their deadline",
          overdueErasures === 0 ? "pass" : "fail",
          `${overdueErasures} overdue in the period`,
        ),
      ],
    },
  ];
  files.set("controls.json", json(controls));

  // --- readable pages
  const rows = controls
    .map((c) => {
      const worst = c.checks.some((k) => k.result === "fail")
        ? "fail"
        : c.checks.every((k) => k.result === "pass" || k.result === "info")
          ? "pass"
          : "not configured";
      return `<tr><td><a href="controls/${html(c.id)}.html">${html(c.id)}</a></td><td>${html(c.title)}</td><td>${badge(worst)}</td></tr>`;
    })
    .join("");
  files.set(
    "index.html",
    new TextEncoder().encode(
      page(
        "Causeloop SOC 2 evidence",
        `<h1>SOC 2 evidence</h1><p>Causeloop ${html(VERSION)} (commit ${html(BUILD.commit)}), ${html(engine.kind)}; period ${html(period.from)} to ${html(period.to)}; generated ${html(now)}.</p>
<p>Every file is listed with its SHA-256 in <code>manifest.json</code>, signed in <code>manifest.sig.json</code> with the key in <code>jwks.json</code> (compare it with <code>/.well-known/jwks.json</code>). Check it with <code>causeloop evidence verify</code>.</p>
<table><tr><th>Criterion</th><th>Control</th><th>Result</th></tr>${rows}</table>`,
      ),
    ),
  );
  for (const c of controls)
    files.set(
      `controls/${c.id}.html`,
      new TextEncoder().encode(
        page(
          `${c.id} ${c.title}`,
          `<p><a href="../index.html">All criteria</a></p><h1>${html(c.id)}: ${html(c.title)}</h1>
<table><tr><th>What was checked</th><th>When</th><th>Result</th><th>Detail</th></tr>${c.checks
            .map(
              (k) =>
                `<tr><td>${html(k.what)}</td><td>${html(k.when)}</td><td>${badge(k.result)}</td><td>${html(k.detail)}</td></tr>`,
            )
            .join(
              "",
            )}</table><h2>Evidence</h2><ul>${c.evidence.map((e) => `<li><code>${html(e)}</code></li>`).join("")}</ul>`,
        ),
      ),
    );

  // --- manifest and signature
  files.set("jwks.json", json({ keys: [signer.publicJwk] }));
  const manifest = json({
    format: "causeloop.evidence.v1",
    generated_at: now,
    period,
    installation: {
      version: VERSION,
      commit: BUILD.commit,
      engine: engine.kind,
      data_dir: config.engine === "pglite" ? config.dataDir : undefined,
    },
    files: [...files].map(([path, bytes]) => ({
      path,
      bytes: bytes.length,
      sha256: new Bun.CryptoHasher("sha256").update(bytes).digest("hex"),
    })),
  });
  files.set("manifest.json", manifest);
  files.set(
    "manifest.sig.json",
    json({ alg: "EdDSA", key_id: signer.keyId, signature: await signer.sign(new TextDecoder().decode(manifest)) }),
  );
  return files;
}

export interface EvidenceVerdict {
  ok: boolean;
  files: number;
  problems: string[];
  key_source: string;
}

/** Checks a pack: the manifest's signature (with the given keys, else the pack's own), every file's hash. */
export async function verifyEvidence(
  archive: Uint8Array,
  jwks?: { keys: { x: string; kid?: string }[] },
): Promise<EvidenceVerdict> {
  const problems: string[] = [];
  let entries: Map<string, File>;
  try {
    entries = await new Bun.Archive(archive).files();
  } catch (error) {
    return { ok: false, files: 0, problems: [`not a readable archive: ${(error as Error).message}`], key_source: "" };
  }
  const text = async (path: string) => entries.get(path)?.text();
  const manifestText = await text("manifest.json");
  const sigText = await text("manifest.sig.json");
  if (!manifestText || !sigText)
    return { ok: false, files: 0, problems: ["manifest.json or manifest.sig.json is missing"], key_source: "" };
  let manifest: { files: { path: string; sha256: string; bytes: number }[] };
  let sig: { key_id: string; signature: string };
  try {
    manifest = JSON.parse(manifestText);
    sig = JSON.parse(sigText);
  } catch {
    return { ok: false, files: 0, problems: ["the manifest or its signature is not JSON"], key_source: "" };
  }
  const keys =
    jwks?.keys ??
    (JSON.parse((await text("jwks.json")) ?? '{"keys":[]}') as { keys: { x: string; kid?: string }[] }).keys;
  const jwk = keys.find((k) => !k.kid || k.kid === sig.key_id);
  if (!jwk) problems.push(`no public key ${sig.key_id} to check the manifest's signature`);
  else {
    const valid = await verifyWithJwk(jwk, manifestText, sig.signature);
    if (!valid) problems.push("the manifest's signature does not verify");
  }
  const listed = new Set<string>(["manifest.json", "manifest.sig.json"]);
  for (const f of manifest.files ?? []) {
    listed.add(f.path);
    const entry = entries.get(f.path);
    if (!entry) {
      problems.push(`${f.path} is missing`);
      continue;
    }
    const sha = new Bun.CryptoHasher("sha256").update(await entry.bytes()).digest("hex");
    if (sha !== f.sha256) problems.push(`${f.path} does not match its SHA-256 in the manifest`);
  }
  for (const path of entries.keys()) if (!listed.has(path)) problems.push(`${path} is not in the manifest`);
  return {
    ok: problems.length === 0,
    files: manifest.files?.length ?? 0,
    problems,
    key_source: jwks ? "the JWKS given" : "the key in the pack",
  };
}

/** Writes the pack as a gzipped tarball (mode 0600), through a file renamed into place. */
export async function writeEvidence(
  files: Map<string, Uint8Array>,
  out: string,
): Promise<{ file: string; files: number; bytes: number }> {
  const archive = await new Bun.Archive(Object.fromEntries(files), { compress: "gzip", level: 9 }).bytes();
  try {
    writeFileAtomically(out, archive);
  } catch (error) {
    throw new AppError(
      "bad_request",
      `cannot write ${out}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  return { file: out, files: files.size, bytes: archive.length };
}
