-- Global reference data: the connector catalogue. Upserted by every `causeloop migrate`, so it is safe to re-run.
INSERT INTO connector_catalogue (slug, name, category, auth_kind, description, docs_url) VALUES
  ('sentry',            'Sentry',                    'error_tracking', 'api_key',  'Errors and performance issues from Sentry projects.',                      'https://docs.sentry.io/api/'),
  ('pagerduty',         'PagerDuty',                 'alerting',       'api_key',  'Incidents, alerts and on-call schedules from PagerDuty.',                   'https://developer.pagerduty.com/api-reference/'),
  ('opsgenie',          'Opsgenie',                  'alerting',       'api_key',  'Alerts and incidents from Atlassian Opsgenie.',                             'https://docs.opsgenie.com/docs/api-overview'),
  ('datadog',           'Datadog',                   'observability',  'api_key',  'Monitors, events, metrics and logs from Datadog.',                          'https://docs.datadoghq.com/api/latest/'),
  ('grafana',           'Grafana',                   'observability',  'api_key',  'Alert rules, annotations and dashboards from Grafana.',                     'https://grafana.com/docs/grafana/latest/developers/http_api/'),
  ('alertmanager',      'Prometheus Alertmanager',   'alerting',       'webhook',  'Firing and resolved alerts pushed by Prometheus Alertmanager.',             'https://prometheus.io/docs/alerting/latest/configuration/#webhook_config'),
  ('newrelic',          'New Relic',                 'observability',  'api_key',  'Incidents, issues and NRQL data from New Relic.',                           'https://docs.newrelic.com/docs/apis/intro-apis/introduction-new-relic-apis/'),
  ('cloudwatch',        'AWS CloudWatch',            'cloud',          'iam_role', 'Alarms, metrics and logs from AWS CloudWatch through an assumed IAM role.', 'https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/'),
  ('github',            'GitHub',                    'source_control', 'oauth',    'Commits, pull requests, deployments and issues from GitHub.',               'https://docs.github.com/en/rest'),
  ('gitlab',            'GitLab',                    'source_control', 'api_key',  'Commits, merge requests, pipelines and issues from GitLab.',                'https://docs.gitlab.com/ee/api/rest/'),
  ('jira',              'Jira',                      'issue_tracking', 'oauth',    'Issues and incident tickets from Atlassian Jira.',                          'https://developer.atlassian.com/cloud/jira/platform/rest/v3/'),
  ('linear',            'Linear',                    'issue_tracking', 'api_key',  'Issues and projects from Linear.',                                          'https://developers.linear.app/docs/graphql/working-with-the-graphql-api'),
  ('slack',             'Slack',                     'chat',           'oauth',    'Incident channels and notifications in Slack.',                             'https://api.slack.com/web'),
  ('msteams',           'Microsoft Teams',           'chat',           'webhook',  'Incident notifications in Microsoft Teams channels.',                       'https://learn.microsoft.com/en-us/graph/teams-concept-overview'),
  ('postgresql_relay',  'PostgreSQL (relay)',        'database_relay', 'relay',    'Read-only PostgreSQL queries through the Causeloop relay, with PII masking.', NULL),
  ('mongodb_relay',     'MongoDB (relay)',           'database_relay', 'relay',    'Read-only MongoDB find and aggregate through the Causeloop relay, with PII masking.', NULL),
  ('dynamodb',          'Amazon DynamoDB',           'cloud',          'iam_role', 'Read-only DynamoDB GetItem, Query and Scan through an assumed IAM role.',   'https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/'),
  ('generic',           'Generic JSON webhook',      'observability',  'webhook',  'Events in Causeloop''s documented generic JSON format, from any tool that can send a signed webhook.', NULL)
ON CONFLICT (slug) DO UPDATE SET
  name = EXCLUDED.name,
  category = EXCLUDED.category,
  auth_kind = EXCLUDED.auth_kind,
  description = EXCLUDED.description,
  docs_url = EXCLUDED.docs_url,
  updated_at = CASE
    WHEN (connector_catalogue.name, connector_catalogue.category, connector_catalogue.auth_kind, connector_catalogue.description, connector_catalogue.docs_url)
         IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.category, EXCLUDED.auth_kind, EXCLUDED.description, EXCLUDED.docs_url)
    THEN now() ELSE connector_catalogue.updated_at END;
