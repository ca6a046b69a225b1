// The audit trail: verify every workspace and the operator log.
import { useState } from "react";
import { Box, useInput } from "ink";
import type { TuiServices } from "../services.ts";
import { Line, Status } from "../components.tsx";

export function Audit({ services, active }: { services: TuiServices; active: boolean }) {
  const [result, setResult] = useState<Awaited<ReturnType<TuiServices["auditVerify"]>>>();
  const [message, setMessage] = useState<string>(
    "Press v to verify every workspace's audit chain and the operator log.",
  );
  useInput(
    (input) => {
      if (input !== "v") return;
      setMessage("Verifying ...");
      services.auditVerify().then(
        (r) => {
          setResult(r);
          setMessage(r.ok ? "All chains verified: OK" : "TAMPERING FOUND");
        },
        (e: Error) => setMessage(`ERROR: ${e.message}`),
      );
    },
    { isActive: active },
  );
  return (
    <Box flexDirection="column">
      <Line>{message}</Line>
      {[...(result?.workspaces ?? []), ...(result?.operator_log ? [result.operator_log] : [])].map((w) => (
        <Line key={w.workspace_id}>
          <Status ok={w.ok} label={w.ok ? "OK" : "TAMPERED"} /> {w.workspace_id} {w.rows} rows, checkpoint at{" "}
          {w.last_checkpoint_seq ?? "-"}
          {w.ok ? "" : `, first broken seq ${w.first_broken_seq}: ${w.reason}`}
        </Line>
      ))}
    </Box>
  );
}
