// Tenants: onboard (form), soft offboard (y/N naming the tenant), purge (the slug typed back).
import { useReducer } from "react";
import { Box, Text, useInput } from "ink";
import type { TuiServices } from "../services.ts";
import { Confirm, Form, Line, type Field } from "../components.tsx";
import { useLoad } from "../hooks/use-load.ts";
import { useSelection } from "../hooks/use-selection.ts";
import { promptReducer, tenantsKey, type TenantsPrompt } from "../state/prompt.ts";

export function Tenants({
  services,
  busy,
  setBusy,
}: {
  services: TuiServices;
  busy: boolean;
  setBusy: (b: boolean) => void;
}) {
  const tenants = useLoad(() => services.tenants());
  const rows = tenants.data ?? [];
  const selected = useSelection(rows.length, !busy);
  const [{ prompt: mode, message }, dispatch] = useReducer(promptReducer<TenantsPrompt>, {
    prompt: undefined,
    message: undefined,
  });
  const done = (text: string) => {
    dispatch({ type: "finish", message: text });
    setBusy(false);
    tenants.reload();
  };
  const fail = (e: Error) => done(`ERROR: ${e.message}`);
  useInput(
    (input) => {
      const prompt = tenantsKey(input, rows[selected] !== undefined);
      if (!prompt) return;
      dispatch({ type: "open", prompt });
      setBusy(true);
    },
    { isActive: !busy },
  );
  const onboardFields: Field[] = [
    { name: "slug", label: "Slug (a-z, 0-9, -)" },
    { name: "name", label: "Organization name" },
    { name: "adminEmail", label: "Admin email" },
  ];
  return (
    <Box flexDirection="column">
      {rows.map((r, i) => (
        <Line key={`${r.organization_id}${r.workspace_id}`}>
          {i === selected ? "> " : "  "}
          {r.slug.padEnd(20)} {r.status.toUpperCase().padEnd(9)} {(r.workspace_slug ?? "-").padEnd(12)}{" "}
          {String(r.members).padStart(3)} members {r.created_at.slice(0, 10)}
        </Line>
      ))}
      {rows.length === 0 && <Line>No tenants yet: press n to onboard one.</Line>}
      {mode === "onboard" && (
        <Form
          title="Onboard a client"
          fields={onboardFields}
          onCancel={() => done("Onboarding cancelled")}
          onSubmit={(v) =>
            services
              .onboard({ slug: v.slug ?? "", name: v.name ?? "", adminEmail: v.adminEmail ?? "" })
              .then(
                (r) =>
                  done(
                    `Onboarded ${r.slug} (workspace ${r.workspace_id}). ADMIN TOKEN, shown once, store it now: ${r.admin_token}${r.setup_token ? ` SETUP TOKEN (the admin's first password, 7 days): ${r.setup_token}` : ""}`,
                  ),
                fail,
              )
          }
        />
      )}
      {mode === "soft" && rows[selected] && (
        <Confirm
          question={`Disable ${rows[selected]?.slug} and revoke every token of its workspaces?`}
          onYes={() => {
            const slug = rows[selected]?.slug as string;
            services.offboard(slug, "soft").then(() => done(`Disabled ${slug}; its tokens are revoked`), fail);
          }}
          onNo={() => done("Not disabled")}
        />
      )}
      {mode === "purge" && rows[selected] && (
        <Form
          title={`PURGE ${rows[selected]?.slug}: deletes every row of it for good. Type the slug to confirm.`}
          fields={[{ name: "slug", label: "Slug" }]}
          onCancel={() => done("Purge cancelled")}
          onSubmit={(v) => {
            const slug = rows[selected]?.slug as string;
            if (v.slug !== slug) return done("Purge cancelled: the slug did not match");
            services
              .offboard(slug, "purge")
              .then(
                (r) =>
                  done(
                    `Purged ${slug}: ${Object.values(r.row_counts).reduce((a, b) => a + Number(b), 0)} rows deleted`,
                  ),
                fail,
              );
          }}
        />
      )}
      {message && <Text wrap="wrap">{message}</Text>}
      {tenants.error && <Line>ERROR: {tenants.error}</Line>}
    </Box>
  );
}
