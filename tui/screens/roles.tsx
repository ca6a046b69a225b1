// The runtime role: check it, set it up (a generated password is shown once).
import { useState } from "react";
import { Box, Text, useInput } from "ink";
import type { TuiServices } from "../services.ts";
import { Line, Status } from "../components.tsx";
import { useLoad } from "../hooks/use-load.ts";

export function Roles({ services, active }: { services: TuiServices; active: boolean }) {
  const check = useLoad(() => services.roleCheck());
  const [message, setMessage] = useState<string>();
  useInput(
    (input) => {
      if (input === "c") check.reload();
      if (input === "s")
        services.roleSetup().then(
          (r) => {
            setMessage(
              r.generatedPassword
                ? `Role ${r.role} set up. PASSWORD, shown once, store it now: ${r.generatedPassword}`
                : `Role ${r.role} set up (${r.login ? "LOGIN" : "NOLOGIN: embedded mode switches to it per transaction"})`,
            );
            check.reload();
          },
          (e: Error) => setMessage(`ERROR: ${e.message}`),
        );
    },
    { isActive: active },
  );
  const r = check.data;
  return (
    <Box flexDirection="column">
      {r && (
        <>
          <Line>
            Runtime role {r.role}: <Status ok={r.ok} />
          </Line>
          <Line>
            {" "}
            exists {String(r.exists)}, login {String(r.login)}, superuser {String(r.superuser)}, bypassrls{" "}
            {String(r.bypassRls)}
          </Line>
          {r.problems.map((p) => (
            <Line key={p}> problem: {p}</Line>
          ))}
        </>
      )}
      {message && <Text wrap="wrap">{message}</Text>}
      {check.error && <Line>ERROR: {check.error}</Line>}
    </Box>
  );
}
