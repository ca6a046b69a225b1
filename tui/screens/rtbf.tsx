// Erasure requests of every workspace: approve (y/N naming the subject), reject or hold with a reason.
import { useReducer } from "react";
import { Box, Text, useInput } from "ink";
import type { RtbfRow, TuiServices } from "../services.ts";
import { Confirm, Form, Line } from "../components.tsx";
import { useLoad } from "../hooks/use-load.ts";
import { useSelection } from "../hooks/use-selection.ts";
import { promptReducer, rtbfKey, type RtbfPrompt } from "../state/prompt.ts";

export function Rtbf({
  services,
  busy,
  setBusy,
}: {
  services: TuiServices;
  busy: boolean;
  setBusy: (b: boolean) => void;
}) {
  const queue = useLoad(() => services.rtbfQueue());
  const rows: RtbfRow[] = queue.data ?? [];
  const selected = useSelection(rows.length, !busy);
  const [{ prompt, message }, dispatch] = useReducer(promptReducer<RtbfPrompt>, {
    prompt: undefined,
    message: undefined,
  });
  const finish = (text: string) => {
    dispatch({ type: "finish", message: text });
    setBusy(false);
    queue.reload();
  };
  const setMessage = (text: string) => dispatch({ type: "note", message: text });
  useInput(
    (input) => {
      const opened = rtbfKey(input, rows[selected] !== undefined);
      if (!opened) return;
      dispatch({ type: "open", prompt: opened });
      setBusy(true);
    },
    { isActive: !busy },
  );
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
          <Line>
            Subject {row.subject_ref.slice(0, 24)}... workspace {row.workspace_id}
          </Line>
          <Line>
            Received {row.received_at.slice(0, 16)}, reason: {row.reason ?? "-"}
            {row.status_reason ? `; decision: ${row.status_reason}` : ""}
          </Line>
        </Box>
      )}
      {prompt === "approve" && row && (
        <Confirm
          question={`Erase subject ${row.subject_ref.slice(0, 16)}... of workspace ${row.workspace_id} now (${row.id})? This cannot be undone.`}
          onYes={() => {
            setMessage(`Erasing ${row.id} ...`);
            services.rtbfDecide(row.id, "approve").then(
              (r) =>
                finish(
                  `${row.id}: ${r.status.toUpperCase()}; certificate signed for subject ${r.subject_ref.slice(0, 16)}..., ${JSON.stringify((r.result as { erased?: { rows: number }[] } | null)?.erased?.reduce((a, e) => a + e.rows, 0) ?? 0)} rows erased or pseudonymized`,
                ),
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
          onSubmit={(v) =>
            services.rtbfDecide(row.id, prompt, v.reason).then(
              (r) => finish(`${row.id}: ${r.status.toUpperCase()}`),
              (e: Error) => finish(`ERROR: ${e.message}`),
            )
          }
        />
      )}
      {message && <Text wrap="wrap">{message}</Text>}
      {queue.error && <Line>ERROR: {queue.error}</Line>}
    </Box>
  );
}
