// Scheduled jobs: last and next run, recent runs; run the selected one now.
import { useState } from "react";
import { Box, Text, useInput } from "ink";
import type { TuiServices } from "../services.ts";
import { Line } from "../components.tsx";
import { useLoad } from "../hooks/use-load.ts";
import { useSelection } from "../hooks/use-selection.ts";

export function Jobs({ services, active }: { services: TuiServices; active: boolean }) {
  const jobs = useLoad(() => services.jobs());
  const list = jobs.data?.jobs ?? [];
  const selected = useSelection(list.length, active);
  const [message, setMessage] = useState<string>();
  useInput(
    (input) => {
      const job = list[selected];
      if (input !== "r" || !job) return;
      setMessage(`Running ${job.name} ...`);
      services.runJob(job.name).then(
        (r) => {
          setMessage(
            r
              ? `${r.job}: ${r.outcome.toUpperCase()} ${JSON.stringify(r.counts)}`
              : `${job.name}: not run (another instance holds this slot)`,
          );
          jobs.reload();
        },
        (e: Error) => setMessage(`ERROR: ${e.message}`),
      );
    },
    { isActive: active },
  );
  return (
    <Box flexDirection="column">
      {list.map((j, i) => (
        <Line key={j.name}>
          {i === selected ? "> " : "  "}
          {j.name.padEnd(16)} {j.schedule.padEnd(14)} last{" "}
          {j.last_run ? `${j.last_run.outcome.toUpperCase()} ${j.last_run.started_at.slice(0, 16)}` : "never"} next{" "}
          {j.next_run?.slice(0, 16) ?? "-"}
        </Line>
      ))}
      <Text bold>Recent runs</Text>
      {(jobs.data?.recent ?? []).slice(0, 5).map((r) => (
        <Line key={r.id}>
          {"  "}
          {r.job} {r.trigger} {r.outcome.toUpperCase()} {r.started_at.slice(0, 19)} {JSON.stringify(r.counts)}
        </Line>
      ))}
      {message && <Line>{message}</Line>}
      {jobs.error && <Line>ERROR: {jobs.error}</Line>}
    </Box>
  );
}
