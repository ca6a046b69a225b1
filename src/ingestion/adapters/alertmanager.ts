// Prometheus Alertmanager (webhook_config): the alert's generator URL leads back to the expression.
import { prometheusAlerts } from "./prometheus.ts";
import type { Adapter } from "./types.ts";

export const alertmanager: Adapter = ({ body }) =>
  prometheusAlerts(
    body,
    "alertmanager",
    (alert, root) => alert.optStr("generatorURL", 2000) ?? root.optStr("externalURL", 2000),
  );
