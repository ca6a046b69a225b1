// A workspace's problems: its clusters (the same problem, whatever its numbers and hosts) with their events
// and open issues, newest activity first, and the predictions and recommendations waiting. Left/Right
// chooses the workspace.
import { useState } from "react";
import { Box, useInput } from "ink";
import type { TuiServices } from "../services.ts";
import { Line } from "../components.tsx";
import { useLoad } from "../hooks/use-load.ts";

function ago(iso: string | null): string {
  if (!iso) return "never";
  const minutes = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 60_000));
  if (minutes < 60) return `${minutes}m ago`;
  if (minutes < 2880) return `${Math.round(minutes / 60)}h ago`;
  return `${Math.round(minutes / 1440)}d ago`;
}

export function Problems({ services, active }: { services: TuiServices; active: boolean }) {
  const [workspace, setWorkspace] = useState<string>();
  const view = useLoad(async () => (services.problems ? services.problems(workspace) : undefined), workspace);
  const data = view.data;
  useInput(
    (input, key) => {
      if (input === "g") return view.reload();
      const list = data?.workspaces ?? [];
      if (!data?.workspace || list.length < 2 || !(key.leftArrow || key.rightArrow)) return;
      const at = list.findIndex((w) => w.id === data.workspace?.id);
      const next = list[(at + (key.rightArrow ? 1 : list.length - 1)) % list.length];
      if (next) setWorkspace(next.id);
    },
    { isActive: active },
  );
  if (view.error) return <Line>ERROR: {view.error}</Line>;
  if (!data) return <Line>Loading ...</Line>;
  if (!data.workspace) return <Line>No active workspace yet: onboard a tenant (screen 2).</Line>;
  const w = data.workspace;
  return (
    <Box flexDirection="column">
      <Line>
        {w.organization}/{w.slug} ({w.id}) {data.workspaces.length > 1 ? " <- -> other workspaces" : ""}
      </Line>
      <Line>
        Open issues: {data.open_issues} Predictions: {data.predictions.pending} pending, {data.predictions.hit} hit,{" "}
        {data.predictions.miss} missed Recommendations: {data.recommendations}
      </Line>
      <Line>{"EVENTS  ISSUES  LAST SEEN  PROBLEM"}</Line>
      {data.clusters.length === 0 && <Line>No events yet: point a monitoring tool at an inbound webhook.</Line>}
      {data.clusters.map((c) => (
        <Line key={c.cluster_id}>
          {String(c.event_count).padStart(6)} {String(c.open_issues).padStart(7)} {ago(c.last_seen_at).padStart(10)}{" "}
          {c.template.slice(0, 52)}
        </Line>
      ))}
    </Box>
  );
}
