-- Integrations: connectors to the catalogue's products, outbound and inbound webhooks.

CREATE TABLE connectors (
  workspace_id      text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id                text NOT NULL,
  type              text NOT NULL REFERENCES connector_catalogue (slug),
  display_name      text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
  status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'error', 'disabled')),
  config_encrypted  text,
  settings          jsonb NOT NULL DEFAULT '{}'::jsonb,
  last_synced_at    timestamptz,
  last_error        text,
  created_by        text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  deleted_at        timestamptz,
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX connectors_ws_type_idx ON connectors (workspace_id, type);
CREATE TRIGGER connectors_touch BEFORE UPDATE ON connectors FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
SELECT protect_tenant_table('connectors');

CREATE TABLE webhooks (
  workspace_id      text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id                text NOT NULL,
  url               text NOT NULL CHECK (url ~ '^https?://'),
  events            text[] NOT NULL DEFAULT '{}',
  secret_encrypted  text,
  status            text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled', 'failing')),
  failure_count     integer NOT NULL DEFAULT 0,
  last_delivery_at  timestamptz,
  created_by        text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  deleted_at        timestamptz,
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX webhooks_ws_created_idx ON webhooks (workspace_id, created_at DESC);
CREATE TRIGGER webhooks_touch BEFORE UPDATE ON webhooks FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
SELECT protect_tenant_table('webhooks');

CREATE TABLE inbound_webhooks (
  workspace_id          text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id                    text NOT NULL,
  connector_id          text,
  source                text NOT NULL,
  path_token_hash       text NOT NULL CHECK (path_token_hash ~ '^[0-9a-f]{64}$'),
  signing_secret_encrypted text NOT NULL,
  status                text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  last_received_at      timestamptz,
  created_by            text,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  deleted_at            timestamptz,
  PRIMARY KEY (workspace_id, id),
  FOREIGN KEY (workspace_id, connector_id) REFERENCES connectors (workspace_id, id) ON DELETE SET NULL (connector_id)
);
CREATE UNIQUE INDEX inbound_webhooks_ws_path_token_idx ON inbound_webhooks (workspace_id, path_token_hash);
CREATE INDEX inbound_webhooks_ws_connector_idx ON inbound_webhooks (workspace_id, connector_id);
CREATE TRIGGER inbound_webhooks_touch BEFORE UPDATE ON inbound_webhooks FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
SELECT protect_tenant_table('inbound_webhooks');
