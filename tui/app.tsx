// The operator console: a persistent menu (1-7), a help bar, and one screen per task. Every action calls
// the operator services, the same ones (and the same audit trail) as the CLI.
import React, { useCallback, useEffect, useState } from "react";
import { Box, Text, useApp, useInput } from "ink";
import type { RtbfRow, TuiServices } from "./services.ts";
import { Confirm, Form, Line, Status, useSelection, type Field } from "./components.tsx";

export const SCREENS = ["Overview", "Tenants", "Roles", "Migrations", "RTBF", "Audit", "Jobs"] as const;
type Screen = (typeof SCREENS)[number];

const HELP: Record<Screen, string> = {
  Overview: "r refresh",
  Tenants: "n onboard  s soft offboard  p purge  Up/Down select",
  Roles: "c check  s set up the app role",
  Migrations: "a apply pending",
  RTBF: "a approve  x reject  h hold  Up/Down select",
  Audit: "v verify every workspace",
  Jobs: "r run selected job  Up/Down select",
};

interface Props {
  services: TuiServices;
}

/** Loads data for a screen and reloads it on demand; errors are shown, never thrown. */
function useLoad<T>(load: () => Promise<T>): { data: T | undefined; error: string | undefined; reload: () => void } {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    load().then(
      (d) => live && (setData(d), setError(undefined)),
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [tick]);
  return { data, error, reload: useCallback(() => setTick((t) => t + 1), []) };
}

export function App({ services }: Props) {
  const { exit } = useApp();
  const [screen, setScreen] = useState<Screen>("Overview");
  const [busy, setBusy] = useState(false); // a form or prompt owns the keyboard
  useInput(
    (input, key) => {
      if (input === "q" || (key.ctrl && input === "c")) return exit();
      const n = Number(input);
      if (n >= 1 && n <= SCREENS.length) setScreen(SCREENS[n - 1] as Screen);
    },
    { isActive: !busy },
  );
  return (
    <Box flexDirection="column" width="100%">
      <Box>
        <Text bold>Causeloop </Text>
        {SCREENS.map((s, i) => (
          <Text key={s} inverse={s === screen}>{` ${i + 1} ${s}${s === screen ? " *" : ""} `}</Text>
        ))}
      </Box>
      <Text dimColor wrap="truncate-end">{services.engine}</Text>
      <Box flexDirection="column" minHeight={16}>
        {screen === "Overview" && <Overview services={services} active={!busy} />}
        {screen === "Tenants" && <Tenants services={services} setBusy={setBusy} busy={busy} />}
        {screen === "Roles" && <Roles services={services} active={!busy} />}
        {screen === "Migrations" && <Migrations services={services} active={!busy} />}
        {screen === "RTBF" && <Rtbf services={services} setBusy={setBusy} busy={busy} />}
        {screen === "Audit" && <Audit services={services} active={!busy} />}
        {screen === "Jobs" && <Jobs services={services} active={!busy} />}
      </Box>
      <Text inverse wrap="truncate-end">{` ${busy ? "typing: Enter submit, Esc cancel" : `${HELP[screen]}  |  1-7 screens  q quit`} `}</Text>
    </Box>
  );
}

function Overview({ services, active }: { services: TuiServices; active: boolean }) {
  const doctor = useLoad(() => services.doctor());
  const jobs = useLoad(() => services.jobs());
  const rtbf = useLoad(() => services.rtbfQueue());
  const migrations = useLoad(() => services.migrations());
  useInput((input) => {
    if (input === "r") [doctor, jobs, rtbf, migrations].forEach((l) => l.reload());
  }, { isActive: active });
  const open = (rtbf.data ?? []).filter((r) => !["completed", "rejected"].includes(r.status));
  return (
    <Box flexDirection="column">
      {doctor.error && <Line>doctor: {doctor.error}</Line>}
      {doctor.data && (
        <>
          <Line>
            Health: <Status ok={doctor.data.ok} /> RLS coverage {doctor.data.protectedTables}/{doctor.data.tenantTables} tenant tables protected
          </Line>
          {doctor.data.checks.map((c) => (
            <Line key={c.name}>
              {"  "}<Status ok={c.ok} /> {c.name}: {c.detail}
            </Line>
          ))}
        </>
      )}
      {migrations.data && <Line>Migrations: {migrations.data.migrations.length - migrations.data.pending} applied, {migrations.data.pending} pending{migrations.data.error ? ` (ERROR: ${migrations.data.error})` : ""}</Line>}
      {jobs.data?.jobs.map((j) => (
        <Line key={j.name}>
          Job {j.name}: last {j.last_run ? `${j.last_run.outcome.toUpperCase()} ${j.last_run.started_at.slice(0, 16)}` : "never"}, next {j.next_run?.slice(0, 16) ?? "-"}
        </Line>
      ))}
      {rtbf.data && <Line>Erasure requests: {open.length} open, {open.filter((r) => r.overdue).length} OVERDUE</Line>}
    </Box>
  );
}

function Tenants({ services, busy, setBusy }: { services: TuiServices; busy: boolean; setBusy: (b: boolean) => void }) {
  const tenants = useLoad(() => services.tenants());
  const rows = tenants.data ?? [];
  const selected = useSelection(rows.length, !busy);
  const [mode, setMode] = useState<"onboard" | "purge" | "soft" | undefined>();
  const [message, setMessage] = useState<string>();
  const done = (text: string) => {
    setMessage(text);
    setMode(undefined);
    setBusy(false);
    tenants.reload();
  };
  const fail = (e: Error) => done(`ERROR: ${e.message}`);
  useInput((input) => {
    const row = rows[selected];
    if (input === "n") {
      setMode("onboard");
      setBusy(true);
    }
    if (input === "s" && row) {
      setMode("soft");
      setBusy(true);
    }
    if (input === "p" && row) {
      setMode("purge");
      setBusy(true);
    }
  }, { isActive: !busy });
  const onboardFields: Field[] = [
    { name: "slug", label: "Slug (a-z, 0-9, -)" },
    { name: "name", label: "Organization name" },
    { name: "adminEmail", label: "Admin email" },
  ];
  return (
    <Box flexDirection="column">
      {rows.map((r, i) => (
        <Line key={`${r.organization_id}${r.workspace_id}`}>
          {i === selected ? "> " : "  "}
          {r.slug.padEnd(20)} {r.status.toUpperCase().padEnd(9)} {(r.workspace_slug ?? "-").padEnd(12)} {String(r.members).padStart(3)} members  {r.created_at.slice(0, 10)}
        </Line>
      ))}
      {rows.length === 0 && <Line>No tenants yet: press n to onboard one.</Line>}
      {mode === "onboard" && (
        <Form
          title="Onboard a client"
          fields={onboardFields}
          onCancel={() => done("Onboarding cancelled")}
          onSubmit={(v) =>
            services.onboard({ slug: v.slug ?? "", name: v.name ?? "", adminEmail: v.adminEmail ?? "" }).then(
              (r) => done(`Onboarded ${r.slug} (workspace ${r.workspace_id}). ADMIN TOKEN, shown once, store it now: ${r.admin_token}${r.setup_token ? ` SETUP TOKEN (the admin's first password, 7 days): ${r.setup_token}` : ""}`),
              fail,
            )
          }
        />
      )}
      {mode === "soft" && rows[selected] && (
        <Confirm
          question={`Disable ${rows[selected]?.slug} and revoke every token of its workspaces?`}
          onYes={() => {
            const slug = rows[selected]?.slug as string;
            services.offboard(slug, "soft").then(() => done(`Disabled ${slug}; its tokens are revoked`), fail);
          }}
          onNo={() => done("Not disabled")}
        />
      )}
      {mode === "purge" && rows[selected] && (
        <Form
          title={`PURGE ${rows[selected]?.slug}: deletes every row of it for good. Type the slug to confirm.`}
          fields={[{ name: "slug", label: "Slug" }]}
          onCancel={() => done("Purge cancelled")}
          onSubmit={(v) => {
            const slug = rows[selected]?.slug as string;
            if (v.slug !== slug) return done("Purge cancelled: the slug did not match");
            services.offboard(slug, "purge").then((r) => done(`Purged ${slug}: ${Object.values(r.row_counts).reduce((a, b) => a + Number(b), 0)} rows deleted`), fail);
          }}
        />
      )}
      {message && <Text wrap="wrap">{message}</Text>}
      {tenants.error && <Line>ERROR: {tenants.error}</Line>}
    </Box>
  );
}

function Roles({ services, active }: { services: TuiServices; active: boolean }) {
  const check = useLoad(() => services.roleCheck());
  const [message, setMessage] = useState<string>();
  useInput((input) => {
    if (input === "c") check.reload();
    if (input === "s")
      services.roleSetup().then(
        (r) => {
          setMessage(r.generatedPassword ? `Role ${r.role} set up. PASSWORD, shown once, store it now: ${r.generatedPassword}` : `Role ${r.role} set up (${r.login ? "LOGIN" : "NOLOGIN: embedded mode switches to it per transaction"})`);
          check.reload();
        },
        (e: Error) => setMessage(`ERROR: ${e.message}`),
      );
  }, { isActive: active });
  const r = check.data;
  return (
    <Box flexDirection="column">
      {r && (
        <>
          <Line>
            Runtime role {r.role}: <Status ok={r.ok} />
          </Line>
          <Line>  exists {String(r.exists)}, login {String(r.login)}, superuser {String(r.superuser)}, bypassrls {String(r.bypassRls)}</Line>
          {r.problems.map((p) => (
            <Line key={p}>  problem: {p}</Line>
          ))}
        </>
      )}
      {message && <Text wrap="wrap">{message}</Text>}
      {check.error && <Line>ERROR: {check.error}</Line>}
    </Box>
  );
}

function Migrations({ services, active }: { services: TuiServices; active: boolean }) {
  const status = useLoad(() => services.migrations());
  const [message, setMessage] = useState<string>();
  useInput((input) => {
    if (input !== "a") return;
    setMessage("Applying ...");
    services.migrate().then(
      (r) => {
        setMessage(r.applied.length ? `Applied ${r.applied.map((a) => a.name).join(", ")}` : "Nothing to apply");
        status.reload();
      },
      (e: Error) => setMessage(`ERROR: ${e.message}`),
    );
  }, { isActive: active });
  return (
    <Box flexDirection="column">
      {status.data?.migrations.map((m) => (
        <Line key={m.name}>
          {m.state === "applied" ? "  " : "! "}
          {m.name.padEnd(34)} {m.state.toUpperCase().padEnd(8)} {m.sha256.slice(0, 12)}
        </Line>
      ))}
      {status.data?.error && <Line>ERROR: {status.data.error}</Line>}
      {message && <Line>{message}</Line>}
      {status.error && <Line>ERROR: {status.error}</Line>}
    </Box>
  );
}

function Rtbf({ services, busy, setBusy }: { services: TuiServices; busy: boolean; setBusy: (b: boolean) => void }) {
  const queue = useLoad(() => services.rtbfQueue());
  const rows: RtbfRow[] = queue.data ?? [];
  const selected = useSelection(rows.length, !busy);
  const [prompt, setPrompt] = useState<"reject" | "hold" | "approve" | undefined>();
  const [message, setMessage] = useState<string>();
  const finish = (text: string) => {
    setMessage(text);
    setPrompt(undefined);
    setBusy(false);
    queue.reload();
  };
  useInput((input) => {
    const row = rows[selected];
    if (!row) return;
    if (input === "a") {
      setPrompt("approve");
      setBusy(true);
    }
    if (input === "x" || input === "h") {
      setPrompt(input === "x" ? "reject" : "hold");
      setBusy(true);
    }
  }, { isActive: !busy });
  const row = rows[selected];
  return (
    <Box flexDirection="column">
      {rows.map((r, i) => (
        <Line key={r.id}>
          {i === selected ? "> " : "  "}
          {r.id} {r.status.toUpperCase().padEnd(10)} due {r.due_at.slice(0, 10)} {r.overdue ? "OVERDUE" : ""}
        </Line>
      ))}
      {rows.length === 0 && <Line>No erasure requests.</Line>}
      {row && (
        <Box flexDirection="column" marginTop={1}>
          <Line>Subject {row.subject_ref.slice(0, 24)}... workspace {row.workspace_id}</Line>
          <Line>Received {row.received_at.slice(0, 16)}, reason: {row.reason ?? "-"}{row.status_reason ? `; decision: ${row.status_reason}` : ""}</Line>
        </Box>
      )}
      {prompt === "approve" && row && (
        <Confirm
          question={`Erase subject ${row.subject_ref.slice(0, 16)}... of workspace ${row.workspace_id} now (${row.id})? This cannot be undone.`}
          onYes={() => {
            setMessage(`Erasing ${row.id} ...`);
            services.rtbfDecide(row.id, "approve").then(
              (r) => finish(`${row.id}: ${r.status.toUpperCase()}; certificate signed for subject ${r.subject_ref.slice(0, 16)}..., ${JSON.stringify((r.result as { erased?: { rows: number }[] } | null)?.erased?.reduce((a, e) => a + e.rows, 0) ?? 0)} rows erased or pseudonymized`),
              (e: Error) => finish(`ERROR: ${e.message}`),
            );
          }}
          onNo={() => finish("Not approved")}
        />
      )}
      {(prompt === "reject" || prompt === "hold") && row && (
        <Form
          title={`${prompt === "reject" ? "Reject" : "Hold"} ${row.id}: a reason is required`}
          fields={[{ name: "reason", label: "Reason" }]}
          onCancel={() => finish("Cancelled")}
          onSubmit={(v) => services.rtbfDecide(row.id, prompt, v.reason).then((r) => finish(`${row.id}: ${r.status.toUpperCase()}`), (e: Error) => finish(`ERROR: ${e.message}`))}
        />
      )}
      {message && <Text wrap="wrap">{message}</Text>}
      {queue.error && <Line>ERROR: {queue.error}</Line>}
    </Box>
  );
}

function Audit({ services, active }: { services: TuiServices; active: boolean }) {
  const [result, setResult] = useState<Awaited<ReturnType<TuiServices["auditVerify"]>>>();
  const [message, setMessage] = useState<string>("Press v to verify every workspace's audit chain and the operator log.");
  useInput((input) => {
    if (input !== "v") return;
    setMessage("Verifying ...");
    services.auditVerify().then(
      (r) => {
        setResult(r);
        setMessage(r.ok ? "All chains verified: OK" : "TAMPERING FOUND");
      },
      (e: Error) => setMessage(`ERROR: ${e.message}`),
    );
  }, { isActive: active });
  return (
    <Box flexDirection="column">
      <Line>{message}</Line>
      {[...(result?.workspaces ?? []), ...(result?.operator_log ? [result.operator_log] : [])].map((w) => (
        <Line key={w.workspace_id}>
          <Status ok={w.ok} label={w.ok ? "OK" : "TAMPERED"} /> {w.workspace_id} {w.rows} rows, checkpoint at {w.last_checkpoint_seq ?? "-"}
          {w.ok ? "" : `, first broken seq ${w.first_broken_seq}: ${w.reason}`}
        </Line>
      ))}
    </Box>
  );
}

function Jobs({ services, active }: { services: TuiServices; active: boolean }) {
  const jobs = useLoad(() => services.jobs());
  const list = jobs.data?.jobs ?? [];
  const selected = useSelection(list.length, active);
  const [message, setMessage] = useState<string>();
  useInput((input) => {
    const job = list[selected];
    if (input !== "r" || !job) return;
    setMessage(`Running ${job.name} ...`);
    services.runJob(job.name).then(
      (r) => {
        setMessage(r ? `${r.job}: ${r.outcome.toUpperCase()} ${JSON.stringify(r.counts)}` : `${job.name}: not run (another instance holds this slot)`);
        jobs.reload();
      },
      (e: Error) => setMessage(`ERROR: ${e.message}`),
    );
  }, { isActive: active });
  return (
    <Box flexDirection="column">
      {list.map((j, i) => (
        <Line key={j.name}>
          {i === selected ? "> " : "  "}
          {j.name.padEnd(16)} {j.schedule.padEnd(14)} last {j.last_run ? `${j.last_run.outcome.toUpperCase()} ${j.last_run.started_at.slice(0, 16)}` : "never"}  next {j.next_run?.slice(0, 16) ?? "-"}
        </Line>
      ))}
      <Text bold>Recent runs</Text>
      {(jobs.data?.recent ?? []).slice(0, 5).map((r) => (
        <Line key={r.id}>
          {"  "}{r.job} {r.trigger} {r.outcome.toUpperCase()} {r.started_at.slice(0, 19)} {JSON.stringify(r.counts)}
        </Line>
      ))}
      {message && <Line>{message}</Line>}
      {jobs.error && <Line>ERROR: {jobs.error}</Line>}
    </Box>
  );
}
