import { Box, useInput } from "ink";
import type { TuiServices } from "../services.ts";
import { Line, Status } from "../components.tsx";
import { useLoad } from "../hooks/use-load.ts";
import type { BackupStaleness } from "../../src/backups/staleness.ts";

/** How long ago, in words that fit a line: "5.2 h ago", "3.1 d ago", "never". */
export function ago(at: string | null, now = Date.now()): string {
  if (!at) return "never";
  const hours = (now - Date.parse(at)) / 3_600_000;
  return hours < 48 ? `${Math.max(0, Math.round(hours * 10) / 10)} h ago` : `${Math.round(hours / 2.4) / 10} d ago`;
}

/** The last backup and drill with their age (the reasons, when stale, are doctor's failing "backups" check). */
export function backupSummary(s: BackupStaleness): string {
  const drill = s.last_drill_ok === false ? `${ago(s.last_drill_at)} FAILED` : ago(s.last_drill_at);
  return `last backup ${ago(s.last_backup_at)}, last restore drill ${drill}`;
}

export function Overview({ services, active }: { services: TuiServices; active: boolean }) {
  const doctor = useLoad(() => services.doctor());
  const jobs = useLoad(() => services.jobs());
  const rtbf = useLoad(() => services.rtbfQueue());
  const migrations = useLoad(() => services.migrations());
  const alerts = useLoad(async () => (services.alerts ? services.alerts() : []));
  const backups = useLoad(async () => (services.backups ? services.backups() : null));
  useInput(
    (input) => {
      if (input === "r") for (const l of [doctor, jobs, rtbf, migrations, alerts, backups]) l.reload();
    },
    { isActive: active },
  );
  const open = (rtbf.data ?? []).filter((r) => !["completed", "rejected"].includes(r.status));
  return (
    <Box flexDirection="column">
      {doctor.error && <Line>doctor: {doctor.error}</Line>}
      {doctor.data && (
        <>
          <Line>
            Health: <Status ok={doctor.data.ok} /> RLS coverage {doctor.data.protectedTables}/{doctor.data.tenantTables}{" "}
            tenant tables protected
          </Line>
          {/* Failing checks in full; passing ones as a count, so the overview fits 80x24. */}
          {doctor.data.checks
            .filter((c) => !c.ok)
            .map((c) => (
              <Line key={c.name}>
                {"  "}
                <Status ok={c.ok} /> {c.name}: {c.detail}
              </Line>
            ))}
          <Line>
            {"  "}
            {doctor.data.checks.filter((c) => c.ok).length} of {doctor.data.checks.length} checks OK (`causeloop doctor`
            lists each)
          </Line>
        </>
      )}
      {migrations.data && (
        <Line>
          Migrations: {migrations.data.migrations.length - migrations.data.pending} applied, {migrations.data.pending}{" "}
          pending{migrations.data.error ? ` (ERROR: ${migrations.data.error})` : ""}
        </Line>
      )}
      {backups.data && (
        <Line>
          Backups: <Status ok={!backups.data.stale} label={backups.data.stale ? "STALE" : "OK"} />{" "}
          {backupSummary(backups.data)}
        </Line>
      )}
      {/* The backup jobs are the line above: one line each for the others keeps the overview within 80x24. */}
      {jobs.data?.jobs
        .filter((j) => !j.name.startsWith("backup."))
        .map((j) => (
          <Line key={j.name}>
            Job {j.name}: last{" "}
            {j.last_run ? `${j.last_run.outcome.toUpperCase()} ${j.last_run.started_at.slice(0, 16)}` : "never"}, next{" "}
            {j.next_run?.slice(0, 16) ?? "-"}
          </Line>
        ))}
      {alerts.data && (
        <Line>
          Security alerts: <Status ok={alerts.data.length === 0} /> {alerts.data.length} open
          {alerts.data.slice(0, 5).map((a) => `\n  ${a.severity.toUpperCase()} ${a.rule}: ${a.summary}`)}
        </Line>
      )}
      {rtbf.data && (
        <Line>
          Erasure requests: {open.length} open, {open.filter((r) => r.overdue).length} OVERDUE
        </Line>
      )}
    </Box>
  );
}
