// Every migration, embedded into the binary as text. A test fails when a .sql file here is missing from this list.
import m0001 from "./0001_foundation.sql" with { type: "text" };
import m0002 from "./0002_auth_surface.sql" with { type: "text" };
import m0003 from "./0003_product_core.sql" with { type: "text" };
import m0004 from "./0004_integrations.sql" with { type: "text" };
import m0005 from "./0005_governance.sql" with { type: "text" };
import m0006 from "./0006_keys_and_orchestration.sql" with { type: "text" };
import m0007 from "./0007_tenant_lifecycle.sql" with { type: "text" };
import m0008 from "./0008_key_probe.sql" with { type: "text" };
import m0009 from "./0009_audit_checkpoints.sql" with { type: "text" };
import m0010 from "./0010_identity.sql" with { type: "text" };
import m0011 from "./0011_scheduler_and_retention.sql" with { type: "text" };
import m0012 from "./0012_erasure.sql" with { type: "text" };
import m0013 from "./0013_job_queue.sql" with { type: "text" };
import m0014 from "./0014_operator_log.sql" with { type: "text" };
import m0015 from "./0015_job_lease_heartbeat.sql" with { type: "text" };
import m0016 from "./0016_account_identity.sql" with { type: "text" };
import m0018 from "./0018_erasure_reach.sql" with { type: "text" };
import m0020 from "./0020_attempt_throttle.sql" with { type: "text" };
import m0021 from "./0021_key_dependents.sql" with { type: "text" };
import m0022 from "./0022_audit_hardening.sql" with { type: "text" };
import m0023 from "./0023_rate_limits.sql" with { type: "text" };
import m0027 from "./0027_idempotency_keys.sql" with { type: "text" };
import m0028 from "./0028_compliance_log_append_only.sql" with { type: "text" };
import m0029 from "./0029_attestation_readout.sql" with { type: "text" };
import m0030 from "./0030_delivery.sql" with { type: "text" };
import m0031 from "./0031_metrics.sql" with { type: "text" };
import m0032 from "./0032_security_alerts.sql" with { type: "text" };
import m0033 from "./0033_audit_streams.sql" with { type: "text" };
import m0034 from "./0034_backup_readout.sql" with { type: "text" };
import m0035 from "./0035_ingestion.sql" with { type: "text" };
import m0036 from "./0036_backup_staleness.sql" with { type: "text" };
import m0037 from "./0037_restore_replay.sql" with { type: "text" };
import m0038 from "./0038_sso.sql" with { type: "text" };
import m0039 from "./0039_scim_and_access_reviews.sql" with { type: "text" };
import m0040 from "./0040_intelligence.sql" with { type: "text" };
import m0041 from "./0041_relay.sql" with { type: "text" };
import m0042 from "./0042_door_with_pat.sql" with { type: "text" };
import m0043 from "./0043_audit_sequencer.sql" with { type: "text" };
import m0044 from "./0044_door_with_session.sql" with { type: "text" };
import m0045 from "./0045_runtime_audit_verify.sql" with { type: "text" };
import m0046 from "./0046_audit_queue_order.sql" with { type: "text" };
import seedReference from "../seed_reference.sql" with { type: "text" };

export interface MigrationSource {
  name: string;
  sql: string;
}

export const migrations: MigrationSource[] = [
  { name: "0001_foundation", sql: m0001 },
  { name: "0002_auth_surface", sql: m0002 },
  { name: "0003_product_core", sql: m0003 },
  { name: "0004_integrations", sql: m0004 },
  { name: "0005_governance", sql: m0005 },
  { name: "0006_keys_and_orchestration", sql: m0006 },
  { name: "0007_tenant_lifecycle", sql: m0007 },
  { name: "0008_key_probe", sql: m0008 },
  { name: "0009_audit_checkpoints", sql: m0009 },
  { name: "0010_identity", sql: m0010 },
  { name: "0011_scheduler_and_retention", sql: m0011 },
  { name: "0012_erasure", sql: m0012 },
  { name: "0013_job_queue", sql: m0013 },
  { name: "0014_operator_log", sql: m0014 },
  { name: "0015_job_lease_heartbeat", sql: m0015 },
  { name: "0016_account_identity", sql: m0016 },
  { name: "0018_erasure_reach", sql: m0018 },
  { name: "0020_attempt_throttle", sql: m0020 },
  { name: "0021_key_dependents", sql: m0021 },
  { name: "0022_audit_hardening", sql: m0022 },
  { name: "0023_rate_limits", sql: m0023 },
  { name: "0027_idempotency_keys", sql: m0027 },
  { name: "0028_compliance_log_append_only", sql: m0028 },
  { name: "0029_attestation_readout", sql: m0029 },
  { name: "0030_delivery", sql: m0030 },
  { name: "0031_metrics", sql: m0031 },
  { name: "0032_security_alerts", sql: m0032 },
  { name: "0033_audit_streams", sql: m0033 },
  { name: "0034_backup_readout", sql: m0034 },
  { name: "0035_ingestion", sql: m0035 },
  { name: "0036_backup_staleness", sql: m0036 },
  { name: "0037_restore_replay", sql: m0037 },
  { name: "0038_sso", sql: m0038 },
  { name: "0039_scim_and_access_reviews", sql: m0039 },
  { name: "0040_intelligence", sql: m0040 },
  { name: "0041_relay", sql: m0041 },
  { name: "0042_door_with_pat", sql: m0042 },
  { name: "0043_audit_sequencer", sql: m0043 },
  { name: "0044_door_with_session", sql: m0044 },
  { name: "0045_runtime_audit_verify", sql: m0045 },
  { name: "0046_audit_queue_order", sql: m0046 },
];

export const referenceSql: string = seedReference;
