import { writeSync } from "node:fs";
import { render } from "ink";
import type { Config } from "../src/config.ts";
import { App } from "./app.tsx";
import { operatorServices } from "./services.ts";

export const NO_TTY_HELP = `causeloop tui needs an interactive terminal. The same actions as commands:
  causeloop doctor | tenants list | onboard <slug> --name N --admin-email E | offboard <slug> --mode soft|purge
  causeloop roles check | roles setup | migrate status | migrate
  causeloop rtbf list | rtbf approve <id> --yes | rtbf reject <id> --reason R | rtbf hold <id> --reason R
  causeloop audit verify | jobs list | jobs run <name>`;

export async function runTui(config: Config): Promise<number> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    writeSync(2, `${NO_TTY_HELP}\n`); // synchronous: the process exits right after
    return 2;
  }
  // interactive: true because both ends are terminals (checked above). Ink otherwise turns non-interactive
  // whenever CI=true is in the environment and draws nothing until exit: a blank console for an operator
  // whose shell (or a CI runner) exports CI.
  const services = operatorServices(config);
  const instance = render(<App services={services} />, { exitOnCtrlC: true, interactive: true });
  try {
    await instance.waitUntilExit();
  } finally {
    await services.close?.();
  }
  return 0;
}
