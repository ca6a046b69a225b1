// The dead-letter queue of every workspace: webhook deliveries whose retries are spent; replay the selected one.
import { useState } from "react";
import { Box, useInput } from "ink";
import type { TuiServices } from "../services.ts";
import { Line } from "../components.tsx";
import { useLoad } from "../hooks/use-load.ts";
import { useSelection } from "../hooks/use-selection.ts";

export function Deliveries({ services, active }: { services: TuiServices; active: boolean }) {
  const dead = useLoad(async () => (services.deadLetters ? services.deadLetters() : []));
  const list = dead.data ?? [];
  const selected = useSelection(list.length, active);
  const [message, setMessage] = useState<string>();
  useInput(
    (input) => {
      const letter = list[selected];
      if (input === "g") return dead.reload();
      if (input !== "r" || !letter || !services.replayDelivery) return;
      setMessage(`Replaying ${letter.id} ...`);
      services.replayDelivery(letter.workspace_id, letter.id).then(
        (d) => {
          setMessage(`${d.id}: queued again (${d.event_type}, same webhook-id ${d.event_id})`);
          dead.reload();
        },
        (e: Error) => setMessage(`ERROR: ${e.message}`),
      );
    },
    { isActive: active },
  );
  return (
    <Box flexDirection="column">
      <Line>Dead letters: {list.length}</Line>
      {list.map((d, i) => (
        <Line key={d.id}>
          {i === selected ? "> " : "  "}
          {d.id} {d.event_type.padEnd(16)} {d.attempts} attempts {d.last_error ?? ""} ({d.workspace_id})
        </Line>
      ))}
      {message && <Line>{message}</Line>}
      {dead.error && <Line>ERROR: {dead.error}</Line>}
    </Box>
  );
}
