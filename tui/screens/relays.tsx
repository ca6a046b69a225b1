// A workspace's relays: its relay tokens (one per relay agent) and the relays' connections. New token (n, the
// secret shown once), rotate (r) or revoke (d) the selected one after a y/N question; Left/Right chooses the
// workspace. The same operations (and audit rows) as `causeloop relay-token` and `causeloop relays`.
import { useEffect, useReducer, useState } from "react";
import { Box, Text, useInput, useStdout } from "ink";
import type { RelayConnection, TuiServices } from "../services.ts";
import type { RelayTokenView } from "../../src/relay/tokens.ts";
import { Confirm, Form, Line } from "../components.tsx";
import { useLoad } from "../hooks/use-load.ts";
import { useSelection } from "../hooks/use-selection.ts";
import { promptReducer } from "../state/prompt.ts";

type RelaysPrompt = "create" | "rotate" | "revoke";

/** n opens the new-token form; r and d act on the selected token, and only while it is not revoked. */
export function relaysKey(input: string, selected: RelayTokenView | undefined): RelaysPrompt | undefined {
  if (input === "n") return "create";
  if (!selected || selected.revoked_at) return undefined;
  return input === "r" ? "rotate" : input === "d" ? "revoke" : undefined;
}

function ago(iso: string | null): string {
  if (!iso) return "never";
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 90) return `${seconds}s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)}m ago`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h ago`;
  return `${Math.round(seconds / 86_400)}d ago`;
}

/** The terminal's width (a test's stream has none: 80). */
const width = (out: NodeJS.WritableStream) => ("columns" in out && typeof out.columns === "number" ? out.columns : 80);

const databases = (c: RelayConnection) => c.databases.map((d) => `${d.name} (${d.kind})`).join(", ") || "none";

export function Relays({
  services,
  active,
  setBusy,
}: {
  services: TuiServices;
  active: boolean;
  setBusy: (b: boolean) => void;
}) {
  const tenants = useLoad(() => services.tenants());
  const workspaces = (tenants.data ?? []).flatMap((t) =>
    t.workspace_id ? [{ id: t.workspace_id, label: `${t.slug}/${t.workspace_slug ?? "?"}` }] : [],
  );
  const [chosen, setChosen] = useState<string>();
  const workspace = workspaces.find((w) => w.id === chosen) ?? workspaces[0];
  const view = useLoad(async () => {
    if (!workspace || !services.relayTokens || !services.relayConnections) return undefined;
    const tokens = await services.relayTokens(workspace.id);
    const connections = await services.relayConnections(workspace.id);
    return { workspace: workspace.id, tokens, connections };
  }, workspace?.id);
  // Act on the workspace the rows were loaded for, never on one chosen since and not loaded yet.
  const data = view.data?.workspace === workspace?.id ? view.data : undefined;
  const tokens = data?.tokens ?? [];
  const [{ prompt, message }, dispatch] = useReducer(promptReducer<RelaysPrompt>, {
    prompt: undefined,
    message: undefined,
  });
  const [secret, setSecret] = useState<string>();
  const { stdout } = useStdout();
  const [columns, setColumns] = useState(width(stdout));
  useEffect(() => {
    const resized = () => setColumns(width(stdout));
    stdout.on("resize", resized);
    return () => void stdout.off("resize", resized);
  }, [stdout]);
  const selected = useSelection(tokens.length, active && !prompt);
  const token = tokens[selected];
  const done = (text: string, shownOnce?: string) => {
    dispatch({ type: "finish", message: text });
    setSecret(shownOnce);
    setBusy(false);
    view.reload();
  };
  const fail = (e: Error) => done(`ERROR: ${e.message}`);
  useInput(
    (input, key) => {
      if (input === "g") {
        tenants.reload();
        return view.reload();
      }
      if ((key.leftArrow || key.rightArrow) && workspace && workspaces.length > 1) {
        const at = workspaces.findIndex((w) => w.id === workspace.id);
        const next = workspaces[(at + (key.rightArrow ? 1 : workspaces.length - 1)) % workspaces.length];
        return setChosen(next?.id);
      }
      if (!data) return;
      const opened = relaysKey(input, token);
      if (!opened) return;
      dispatch({ type: "open", prompt: opened });
      setBusy(true);
    },
    { isActive: active && !prompt },
  );
  if (tenants.error) return <Line>ERROR: {tenants.error}</Line>;
  if (!tenants.data) return <Line>Loading ...</Line>;
  if (!workspace) return <Line>No workspace yet: onboard a tenant (screen 2).</Line>;
  return (
    <Box flexDirection="column">
      <Line>
        {workspace.label} ({workspace.id}){workspaces.length > 1 ? "  <- -> other workspaces" : ""}
      </Line>
      <Line>{`Relay tokens: ${tokens.length}`}</Line>
      <Line>{"  NAME               PREFIX           CREATED    LAST USED  STATE"}</Line>
      {data && tokens.length === 0 && <Line>{"  No relay tokens yet: press n to create one."}</Line>}
      {tokens.map((t, i) => (
        <Line key={t.id}>
          {i === selected ? "> " : "  "}
          {t.name.slice(0, 18).padEnd(18)} {t.prefix.padEnd(16)} {t.created_at.slice(0, 10)}{" "}
          {ago(t.last_used_at).padEnd(10)}{" "}
          {t.revoked_at ? (
            <Text color="red">REVOKED {t.revoked_at.slice(0, 10)}</Text>
          ) : (
            <Text color="green">active{t.rotated_at ? " (rotated)" : ""}</Text>
          )}
        </Line>
      ))}
      <Line>{`Connections: ${data?.connections.length ?? 0}`}</Line>
      <Line>{"  RELAY              STATUS        VERSION   HEARTBEAT  DATABASES"}</Line>
      {data && data.connections.length === 0 && <Line>{"  None yet: a relay appears here once it dials in."}</Line>}
      {data?.connections.map((c) => (
        <Line key={c.id}>
          {"  "}
          {c.relay.slice(0, 18).padEnd(18)}{" "}
          <Text color={c.status === "connected" ? "green" : "red"}>{c.status.toUpperCase().padEnd(13)}</Text>{" "}
          {c.agent_version.slice(0, 9).padEnd(9)} {ago(c.last_heartbeat_at).padEnd(10)} {databases(c)}
        </Line>
      ))}
      {prompt === "create" && (
        <Form
          title={`New relay token in ${workspace.label}`}
          fields={[{ name: "name", label: "Relay name (its databases appear as <name>/<database>)" }]}
          onCancel={() => done("No token created")}
          onSubmit={(v) =>
            services
              .relayTokenCreate?.(workspace.id, v.name ?? "")
              .then((t) => done(`Relay token ${t.id} for relay ${t.name} created.`, t.token), fail)
          }
        />
      )}
      {prompt === "rotate" && token && (
        <Confirm
          question={`Rotate ${token.name} (${token.prefix}...)? Its relay stops working until it gets the new token.`}
          onYes={() =>
            services
              .relayTokenRotate?.(workspace.id, token.id)
              .then(
                (t) => done(`Relay token ${t.id} (${t.name}) rotated; the old secret no longer works.`, t.token),
                fail,
              )
          }
          onNo={() => done("Not rotated")}
        />
      )}
      {prompt === "revoke" && token && (
        <Confirm
          question={`Revoke ${token.name} (${token.prefix}...)? Its relay is cut off at its next heartbeat.`}
          onYes={() =>
            services.relayTokenRevoke?.(workspace.id, token.id).then(() => done(`${token.name}: revoked`), fail)
          }
          onNo={() => done("Not revoked")}
        />
      )}
      {message && <Text wrap="wrap">{message}</Text>}
      {secret && (
        <Box flexDirection="column">
          <Text color="yellow" bold>
            TOKEN, shown once: copy it now (relay.json "token" or CAUSELOOP_RELAY_TOKEN)
          </Text>
          <Text>{secret}</Text>
          {secret.length > columns && (
            <Text dimColor wrap="wrap">
              {`It wraps at ${columns} columns: widen the terminal to ${secret.length}+ to copy it as one line, or join the lines.`}
            </Text>
          )}
        </Box>
      )}
      {view.error && <Line>ERROR: {view.error}</Line>}
    </Box>
  );
}
