// The operator plane's registry: every operation, defined once per area in ops/ with its argument schema and
// an inferred result type. The CLI, the console and the control socket reach them through transport.ts.
import type { Static } from "@sinclair/typebox";
import { databaseOperations } from "./ops/database.ts";
import { tenancyOperations } from "./ops/tenancy.ts";
import { keyOperations } from "./ops/keys.ts";
import { auditOperations } from "./ops/audit.ts";
import { governanceOperations } from "./ops/governance.ts";
import { jobOperations } from "./ops/jobs.ts";
import { alertOperations } from "./ops/alerts.ts";
import { deliveryOperations } from "./ops/delivery.ts";
import { backupOperations } from "./ops/backups.ts";
import { intelligenceOperations } from "./ops/intelligence.ts";
import { ingestionOperations } from "./ops/ingestion.ts";
import { identityOperations } from "./ops/identity.ts";
import { ssoOperations } from "./ops/sso.ts";
import { relayOperations } from "./ops/relay.ts";

export const operations = {
  ...databaseOperations,
  ...tenancyOperations,
  ...keyOperations,
  ...auditOperations,
  ...governanceOperations,
  ...jobOperations,
  ...alertOperations,
  ...deliveryOperations,
  ...backupOperations,
  ...intelligenceOperations,
  ...ingestionOperations,
  ...identityOperations,
  ...ssoOperations,
  ...relayOperations,
};

export type Operations = typeof operations;
export type OperationName = keyof Operations;
/** What an operation takes (without the actor, which the transport adds). */
export type ArgsOf<N extends OperationName> = Static<Operations[N]["args"]>;
/** What an operation returns. */
export type ResultOf<N extends OperationName> = Awaited<ReturnType<Operations[N]["run"]>>;

export function isOperationName(name: string): name is OperationName {
  return Object.hasOwn(operations, name);
}
