// Operations on security alerts: list and acknowledge the operator's (the installation's own) or one
// workspace's, and read or tune the rules' thresholds (each change recorded in the operator log).
import { Type } from "@sinclair/typebox";
import { AppError } from "../../errors.ts";
import { withTenant } from "../../db/tenant.ts";
import { logOperatorAction } from "../../audit/operator-log.ts";
import {
  acknowledgeAlert,
  acknowledgeOperatorAlert,
  ALERT_STATUSES,
  listAlerts,
  listOperatorAlerts,
} from "../../security/alerts.ts";
import { defineOperation, WorkspaceArg } from "../contract.ts";

const Workspace = WorkspaceArg;
const Status = Type.Union(ALERT_STATUSES.map((s) => Type.Literal(s)));

interface RuleRow {
  rule: string;
  description: string;
  threshold: number;
  window_seconds: number;
  severity: string;
  enabled: boolean;
}

export const alertOperations = {
  "alerts.list": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object(
      { workspace: Type.Optional(Workspace), status: Type.Optional(Status) },
      { additionalProperties: false },
    ),
    run: async ({ engine }, args) =>
      args.workspace
        ? (
            await withTenant(engine, args.workspace, (tx) =>
              listAlerts(tx, args.workspace as string, { status: args.status, limit: 200 }),
            )
          ).data
        : listOperatorAlerts(engine, { status: args.status, limit: 200 }),
  }),
  "alerts.ack": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object(
      {
        id: Type.String({ pattern: "^alr_[0-9a-z]{26}$" }),
        note: Type.String({ minLength: 1, maxLength: 2000 }),
        workspace: Type.Optional(Workspace),
      },
      { additionalProperties: false },
    ),
    run: async ({ engine, actor }, args) => {
      if (!args.workspace) {
        const alert = await acknowledgeOperatorAlert(engine, args.id, args.note, actor);
        await logOperatorAction(engine, {
          action: "operator_alert.acknowledged",
          actor,
          targetType: "operator_alert",
          targetId: args.id,
          after: { rule: alert.rule, note: args.note },
        });
        return alert;
      }
      const ws = args.workspace;
      return withTenant(engine, ws, (tx) =>
        acknowledgeAlert(
          tx,
          { workspaceId: ws, actorId: actor, actorType: "operator", context: {} },
          args.id,
          args.note,
        ),
      );
    },
  }),
  "alerts.rules": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object(
      {
        set: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
        threshold: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
        window_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 604_800 })),
        enabled: Type.Optional(Type.Boolean()),
      },
      { additionalProperties: false },
    ),
    run: async ({ engine, actor }, args) => {
      if (args.set) {
        if (args.threshold === undefined && args.window_seconds === undefined && args.enabled === undefined)
          throw new AppError("bad_request", "give --threshold, --window or --enable/--disable with --set");
        const [before] = await engine.query<RuleRow>("select * from security_alert_rules where rule = $1", [args.set]);
        if (!before) throw new AppError("not_found", `no alert rule '${args.set}' (see causeloop alerts rules)`);
        const [after] = await engine.query<RuleRow>(
          `update security_alert_rules set threshold = coalesce($2, threshold), window_seconds = coalesce($3, window_seconds),
                  enabled = coalesce($4, enabled), updated_at = now() where rule = $1 returning *`,
          [args.set, args.threshold ?? null, args.window_seconds ?? null, args.enabled ?? null],
        );
        await logOperatorAction(engine, {
          action: "alert_rule.changed",
          actor,
          targetType: "alert_rule",
          targetId: args.set,
          after: { threshold: after?.threshold, window_seconds: after?.window_seconds, enabled: after?.enabled },
        });
      }
      return engine.query<RuleRow>(
        "select rule, description, threshold, window_seconds, severity, enabled from security_alert_rules order by rule",
      );
    },
  }),
};
