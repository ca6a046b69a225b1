// Grafana unified alerting's webhook contact point: Alertmanager's shape plus dashboard and panel URLs.
import { prometheusAlerts } from "./prometheus.ts";
import type { Adapter } from "./types.ts";

export const grafana: Adapter = ({ body }) =>
  prometheusAlerts(
    body,
    "grafana",
    (alert) =>
      alert.optStr("panelURL", 2000) ?? alert.optStr("dashboardURL", 2000) ?? alert.optStr("generatorURL", 2000),
  );
