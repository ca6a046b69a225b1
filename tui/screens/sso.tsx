// Every workspace's SSO connections: add one from a JSON settings file (n), test the selected one (discovery,
// key set, certificate), disable or enable it (e), or delete it after a y/n confirmation. The same operations
// (and audit rows) as `causeloop sso`.
import { useState } from "react";
import { Box, useInput } from "ink";
import type { TuiServices } from "../services.ts";
import { Form, Line, type Field } from "../components.tsx";
import { useLoad } from "../hooks/use-load.ts";
import { useSelection } from "../hooks/use-selection.ts";

const CREATE_FIELDS: Field[] = [
  { name: "workspace", label: "Workspace (ws_...)" },
  { name: "file", label: "Settings file (JSON, as POST /v1/sso-connections takes)" },
];

export function Sso({
  services,
  active,
  setBusy,
}: {
  services: TuiServices;
  active: boolean;
  setBusy: (b: boolean) => void;
}) {
  const [creating, setCreating] = useState(false);
  const connections = useLoad(async () => (services.ssoConnections ? services.ssoConnections() : []));
  const list = connections.data ?? [];
  const [confirming, setConfirming] = useState(false);
  const selected = useSelection(list.length, active && !confirming);
  const [message, setMessage] = useState<string>();
  useInput(
    (input) => {
      const connection = list[selected];
      if (confirming) {
        setConfirming(false);
        if (input !== "y" || !connection || !services.ssoDelete) return setMessage("not deleted");
        setMessage(`Deleting ${connection.id} ...`);
        services.ssoDelete(connection.workspace_id, connection.id).then(
          () => {
            setMessage(`${connection.id}: deleted, its identities unlinked`);
            connections.reload();
          },
          (e: Error) => setMessage(`ERROR: ${e.message}`),
        );
        return;
      }
      if (input === "g") return connections.reload();
      if (input === "n" && services.ssoCreate) {
        setCreating(true);
        return setBusy(true);
      }
      if (!connection) return;
      if (input === "e" && services.ssoSetStatus) {
        const status = connection.status === "active" ? "disabled" : "active";
        setMessage(`${status === "active" ? "Enabling" : "Disabling"} ${connection.id} ...`);
        services.ssoSetStatus(connection.workspace_id, connection.id, status).then(
          (c) => {
            setMessage(`${c.id}: ${c.status}`);
            connections.reload();
          },
          (e: Error) => setMessage(`ERROR: ${e.message}`),
        );
        return;
      }
      if (input === "d") {
        setConfirming(true);
        return setMessage(`Delete ${connection.display_name} (${connection.id})? Its members lose this sign-in. y/n`);
      }
      if (input !== "t" || !services.ssoTest) return;
      setMessage(`Testing ${connection.id} ...`);
      services.ssoTest(connection.workspace_id, connection.id).then(
        (r) =>
          setMessage(
            `${connection.id}: ${r.ok ? "OK" : "FAILED"} ${r.checks.map((c) => `${c.name} ${c.ok ? "ok" : "FAILED"}${c.detail ? ` (${c.detail})` : ""}`).join(", ")}`,
          ),
        (e: Error) => setMessage(`ERROR: ${e.message}`),
      );
    },
    { isActive: active },
  );
  return (
    <Box flexDirection="column">
      <Line>SSO connections: {list.length}</Line>
      {list.map((c, i) => (
        <Line key={c.id}>
          {i === selected ? "> " : "  "}
          {c.id} {c.provider.padEnd(5)} {c.status.padEnd(9)} {c.display_name} {c.issuer ?? ""} ({c.workspace_id})
        </Line>
      ))}
      {creating && (
        <Form
          title="Add an identity provider"
          fields={CREATE_FIELDS}
          onCancel={() => {
            setCreating(false);
            setBusy(false);
            setMessage("not added");
          }}
          onSubmit={(values) => {
            setCreating(false);
            setBusy(false);
            setMessage("Adding ...");
            services.ssoCreate?.(values.workspace ?? "", values.file ?? "").then(
              (c) => {
                setMessage(`${c.id}: added (${c.provider}, ${c.display_name})`);
                connections.reload();
              },
              (e: Error) => setMessage(`ERROR: ${e.message}`),
            );
          }}
        />
      )}
      {message && <Line>{message}</Line>}
      {connections.error && <Line>ERROR: {connections.error}</Line>}
    </Box>
  );
}
