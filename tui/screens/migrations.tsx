// Migrations: applied and pending with their sha256; apply pending.
import { useState } from "react";
import { Box, useInput } from "ink";
import type { TuiServices } from "../services.ts";
import { Line } from "../components.tsx";
import { useLoad } from "../hooks/use-load.ts";

export function Migrations({ services, active }: { services: TuiServices; active: boolean }) {
  const status = useLoad(() => services.migrations());
  const [message, setMessage] = useState<string>();
  useInput(
    (input) => {
      if (input !== "a") return;
      setMessage("Applying ...");
      services.migrate().then(
        (r) => {
          setMessage(r.applied.length ? `Applied ${r.applied.map((a) => a.name).join(", ")}` : "Nothing to apply");
          status.reload();
        },
        (e: Error) => setMessage(`ERROR: ${e.message}`),
      );
    },
    { isActive: active },
  );
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
