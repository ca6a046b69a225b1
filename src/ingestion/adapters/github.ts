// GitHub Actions: workflow_run events (X-GitHub-Event: workflow_run). A completed run that failed fires; the
// next successful run of the same workflow on the same branch resolves it. Other events (ping included) and
// runs still in progress are accepted and ignored. https://docs.github.com/en/webhooks/webhook-events-and-payloads#workflow_run
import type { Severity } from "../event.ts";
import { linkOf, Reader, timeOr } from "./read.ts";
import type { Adapter } from "./types.ts";

const FAILED: Record<string, Severity> = { failure: "high", timed_out: "high", startup_failure: "high" };

export const github: Adapter = ({ body, headers }) => {
  const kind = headers.get("x-github-event");
  const root = Reader.of(body, "github");
  if (kind !== null && kind !== "workflow_run") return [];
  if (!root.has("workflow_run")) return [];
  const run = root.obj("workflow_run");
  const conclusion = run.optStr("conclusion");
  if (root.str("action", 50) !== "completed" || !conclusion) return [];
  const failed = FAILED[conclusion];
  if (!failed && conclusion !== "success") return [];
  const repository = root.obj("repository").str("full_name", 200);
  const workflow = run.str("name", 200);
  const branch = run.optStr("head_branch", 200) ?? "";
  const delivery = headers.get("x-github-delivery");
  return [
    {
      source: "github",
      event_id: delivery?.slice(0, 100) || `${run.str("id", 50)}:${run.optStr("run_attempt", 20) ?? 1}`,
      fingerprint: `workflow:${repository}:${run.str("workflow_id", 50)}:${branch}`,
      title: `${workflow} failed on ${branch || "(no branch)"} in ${repository}`.slice(0, 300),
      message: `Run #${run.optStr("run_number", 20) ?? "?"} (${run.optStr("event", 50) ?? "?"}) concluded ${conclusion} at ${run.optStr("head_sha", 64) ?? "?"}`,
      service: repository,
      environment: branch || null,
      severity: failed ?? "info",
      status: failed ? "firing" : "resolved",
      occurred_at: timeOr(run.optTime("updated_at"), run.optTime("run_started_at")),
      link: linkOf(run.optStr("html_url", 2000)),
    },
  ];
};
