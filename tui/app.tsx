// The operator console: a persistent menu (1-9, 0, -), a help bar, and one screen per task. Every action calls
// the operator services, the same ones (and the same audit trail) as the CLI.
import { useState } from "react";
import { Box, Text, useApp, useInput } from "ink";
import type { TuiServices } from "./services.ts";
import { Overview } from "./screens/overview.tsx";
import { Tenants } from "./screens/tenants.tsx";
import { Roles } from "./screens/roles.tsx";
import { Migrations } from "./screens/migrations.tsx";
import { Rtbf } from "./screens/rtbf.tsx";
import { Audit } from "./screens/audit.tsx";
import { Jobs } from "./screens/jobs.tsx";
import { Deliveries } from "./screens/deliveries.tsx";
import { Problems } from "./screens/problems.tsx";
import { Sso } from "./screens/sso.tsx";
import { Relays } from "./screens/relays.tsx";

export const SCREENS = [
  "Overview",
  "Tenants",
  "Roles",
  "Migrations",
  "RTBF",
  "Audit",
  "Jobs",
  "Deliveries",
  "Problems",
  "SSO",
  "Relays",
] as const;
type Screen = (typeof SCREENS)[number];
// One key per screen, in menu order: the digits, then "-" (the key after 0). Letters are the screens' own
// keys (r, n, d, ...), so a screen key that is a letter would shadow one of them.
const KEYS = "1234567890-";

const HELP: Record<Screen, string> = {
  Overview: "r refresh",
  Tenants: "n onboard  s soft offboard  p purge  Up/Down select",
  Roles: "c check  s set up the app role",
  Migrations: "a apply pending",
  RTBF: "a approve  x reject  h hold  Up/Down select",
  Audit: "v verify every workspace",
  Jobs: "r run selected job  Up/Down select",
  Deliveries: "r replay selected dead letter  g refresh  Up/Down select",
  Problems: "Left/Right workspace  g refresh",
  SSO: "n add  e disable/enable  t test  d delete (y/n)  g refresh  Up/Down",
  Relays: "n new  r rotate  d revoke  g refresh  Up/Down",
};

interface Props {
  services: TuiServices;
}

export function App({ services }: Props) {
  const { exit } = useApp();
  const [screen, setScreen] = useState<Screen>("Overview");
  const [busy, setBusy] = useState(false); // a form or prompt owns the keyboard
  useInput(
    (input, key) => {
      if (input === "q" || (key.ctrl && input === "c")) return exit();
      const at = input.length === 1 ? KEYS.indexOf(input) : -1;
      if (at >= 0 && at < SCREENS.length) setScreen(SCREENS[at] as Screen);
    },
    { isActive: !busy },
  );
  return (
    <Box flexDirection="column" width="100%">
      <Box flexWrap="wrap">
        <Text bold>Causeloop </Text>
        {SCREENS.map((s, i) => (
          <Text key={s} inverse={s === screen}>{` ${KEYS[i]} ${s}${s === screen ? " *" : ""} `}</Text>
        ))}
      </Box>
      <Text dimColor wrap="truncate-end">
        {services.engine}
      </Text>
      <Box flexDirection="column" minHeight={16}>
        {screen === "Overview" && <Overview services={services} active={!busy} />}
        {screen === "Tenants" && <Tenants services={services} setBusy={setBusy} busy={busy} />}
        {screen === "Roles" && <Roles services={services} active={!busy} />}
        {screen === "Migrations" && <Migrations services={services} active={!busy} />}
        {screen === "RTBF" && <Rtbf services={services} setBusy={setBusy} busy={busy} />}
        {screen === "Audit" && <Audit services={services} active={!busy} />}
        {screen === "Jobs" && <Jobs services={services} active={!busy} />}
        {screen === "Deliveries" && <Deliveries services={services} active={!busy} />}
        {screen === "Problems" && <Problems services={services} active={!busy} />}
        {screen === "SSO" && <Sso services={services} active={!busy} setBusy={setBusy} />}
        {screen === "Relays" && <Relays services={services} active={!busy} setBusy={setBusy} />}
      </Box>
      <Text
        inverse
        wrap="truncate-end"
      >{` ${busy ? "typing: Enter submit, Esc cancel" : `${HELP[screen]}  |  1-9, 0, - screens  q quit`} `}</Text>
    </Box>
  );
}
