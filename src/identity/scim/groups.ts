// SCIM Groups: a stored group, its members (provisioned users of this workspace) and the role it grants.
// The role is the group extension's `role` when sent, else read from the name ("Causeloop Admins" is admin,
// "…Analysts" analyst, anything else viewer); never owner. A member's role is the highest of their groups',
// re-computed whenever a group or its membership changes (an owner's membership is never re-roled).
import type { Tx } from "../../db/engine.ts";
import { newId } from "../../ids.ts";
import { member } from "./filter.ts";
import type { Json } from "./patch.ts";
import {
  GROUP_ROLE_SCHEMA,
  GROUP_SCHEMA,
  auditScim,
  invalidValue,
  meta,
  optionalString,
  readOne,
  roleFromName,
  roleOf,
  rowOf,
  type ResourceKind,
  type ScimRole,
} from "./resources.ts";
import type { ScimCaller } from "./tokens.ts";

interface GroupRow {
  id: string;
  display_name: string;
  external_id: string | null;
  role: ScimRole;
  created_at: Date;
  updated_at: Date;
}

interface GroupInput {
  displayName: string;
  externalId: string | null;
  role: ScimRole;
  members: string[];
}

const ROLES = new Set(["admin", "analyst", "viewer"]);

function readGroup(doc: Json): GroupInput {
  const displayName = member(doc, "displayName");
  if (typeof displayName !== "string" || !displayName.trim() || displayName.length > 255)
    throw invalidValue("displayName is required (a string of at most 255 characters)");
  const extension = member(doc, GROUP_ROLE_SCHEMA);
  const asked = extension ? member(extension, "role") : undefined;
  if (asked !== undefined && (typeof asked !== "string" || !ROLES.has(asked)))
    throw invalidValue(`${GROUP_ROLE_SCHEMA}:role must be admin, analyst or viewer`);
  const raw = member(doc, "members") ?? [];
  if (!Array.isArray(raw)) throw invalidValue("members must be an array");
  const members = raw.map((m) => member(m, "value"));
  if (!members.every((v): v is string => typeof v === "string" && v.length <= 100))
    throw invalidValue("every member needs a value (a User id)");
  return {
    displayName: displayName.trim(),
    externalId: optionalString(doc, "externalId", 255),
    role: (asked as ScimRole | undefined) ?? roleFromName(displayName),
    members: [...new Set(members)],
  };
}

const SELECT = "select id, display_name, external_id, role, created_at, updated_at from scim_groups";

async function membersOf(tx: Tx, workspaceId: string, ids: string[]): Promise<Map<string, Json[]>> {
  const rows = await tx.query<{ group_id: string; value: string; display: string }>(
    `select m.group_id, u.id as value, coalesce(u.display_name, u.user_name) as display
       from scim_group_members m join scim_users u on u.workspace_id = m.workspace_id and u.id = m.scim_user_id
      where m.workspace_id = $1 and m.group_id = any($2::text[]) order by u.id`,
    [workspaceId, ids],
  );
  const out = new Map<string, Json[]>();
  for (const r of rows) out.set(r.group_id, [...(out.get(r.group_id) ?? []), { value: r.value, display: r.display }]);
  return out;
}

function toResource(row: GroupRow, base: string, members: Json[]): Json {
  return {
    schemas: [GROUP_SCHEMA, GROUP_ROLE_SCHEMA],
    id: row.id,
    ...(row.external_id ? { externalId: row.external_id } : {}),
    displayName: row.display_name,
    members: members.map((m) => ({ ...m, type: "User", $ref: `${base}/Users/${m.value}` })),
    [GROUP_ROLE_SCHEMA]: { role: row.role },
    meta: meta("Group", `${base}/Groups/${row.id}`, row.created_at, row.updated_at),
  };
}

/** How groups are read: a list answer is `readAll(GROUPS, ...)`, one is `readOne(GROUPS, ...)`. */
const COLUMNS = { displayname: "lower(display_name) = lower(?)", externalid: "external_id = ?", id: "id = ?" };
export const GROUPS: ResourceKind<GroupRow> = {
  name: "Group",
  select: SELECT,
  related: membersOf,
  toResource,
  columns: COLUMNS,
};
const groupRow = (tx: Tx, workspaceId: string, id: string) => rowOf(tx, GROUPS, workspaceId, id);

/** Sets the role of each active, non-owner member to the highest of their groups'. */
async function refreshRoles(tx: Tx, caller: ScimCaller, scimUserIds: string[]): Promise<void> {
  for (const id of new Set(scimUserIds)) {
    const role = await roleOf(tx, caller.workspaceId, id);
    await tx.query(
      `update memberships m set role = $3 from scim_users u
        where m.workspace_id = $1 and u.workspace_id = $1 and u.id = $2 and u.active and m.user_id = u.user_id
          and m.status = 'active' and m.role <> 'owner' and m.role <> $3`,
      [caller.workspaceId, id, role],
    );
  }
}

/** Makes the group's members exactly `wanted`; returns every user whose groups changed. */
async function setMembers(tx: Tx, caller: ScimCaller, groupId: string, wanted: string[]): Promise<string[]> {
  const known = await tx.query<{ id: string }>(
    "select id from scim_users where workspace_id = $1 and id = any($2::text[])",
    [caller.workspaceId, wanted],
  );
  const missing = wanted.filter((w) => !known.some((k) => k.id === w));
  if (missing.length) throw invalidValue(`no such User: ${missing.slice(0, 5).join(", ")}`);
  const current = (
    await tx.query<{ scim_user_id: string }>(
      "select scim_user_id from scim_group_members where workspace_id = $1 and group_id = $2",
      [caller.workspaceId, groupId],
    )
  ).map((r) => r.scim_user_id);
  const added = wanted.filter((w) => !current.includes(w));
  const removed = current.filter((c) => !wanted.includes(c));
  await tx.query(
    "delete from scim_group_members where workspace_id = $1 and group_id = $2 and scim_user_id = any($3::text[])",
    [caller.workspaceId, groupId, removed],
  );
  await tx.query(
    `insert into scim_group_members (workspace_id, group_id, scim_user_id) select $1, $2, unnest($3::text[])`,
    [caller.workspaceId, groupId, added],
  );
  return [...added, ...removed];
}

const audit = (tx: Tx, caller: ScimCaller, action: string, id: string, after?: Json) =>
  auditScim(tx, caller, "scim_group", action, id, after);

export async function createGroup(tx: Tx, caller: ScimCaller, doc: Json, base: string): Promise<Json> {
  const input = readGroup(doc);
  const id = newId("scg");
  await tx.query(
    "insert into scim_groups (workspace_id, id, display_name, external_id, role) values ($1, $2, $3, $4, $5)",
    [caller.workspaceId, id, input.displayName, input.externalId, input.role],
  );
  await refreshRoles(tx, caller, await setMembers(tx, caller, id, input.members));
  await audit(tx, caller, "scim.group_created", id, {
    display_name: input.displayName,
    role: input.role,
    members: input.members.length,
  });
  return readOne(tx, GROUPS, caller, id, base);
}

export async function replaceGroup(tx: Tx, caller: ScimCaller, id: string, doc: Json, base: string): Promise<Json> {
  const current = await groupRow(tx, caller.workspaceId, id);
  const input = readGroup(doc);
  await tx.query(
    "update scim_groups set display_name = $3, external_id = $4, role = $5 where workspace_id = $1 and id = $2",
    [caller.workspaceId, id, input.displayName, input.externalId, input.role],
  );
  const changed = await setMembers(tx, caller, id, input.members);
  await refreshRoles(tx, caller, current.role === input.role ? changed : [...changed, ...input.members]);
  await audit(tx, caller, "scim.group_updated", id, {
    display_name: input.displayName,
    role: input.role,
    members: input.members.length,
  });
  return readOne(tx, GROUPS, caller, id, base);
}

export async function deleteGroup(tx: Tx, caller: ScimCaller, id: string): Promise<void> {
  await groupRow(tx, caller.workspaceId, id);
  const members = (
    await tx.query<{ scim_user_id: string }>(
      "select scim_user_id from scim_group_members where workspace_id = $1 and group_id = $2",
      [caller.workspaceId, id],
    )
  ).map((r) => r.scim_user_id);
  await tx.query("delete from scim_groups where workspace_id = $1 and id = $2", [caller.workspaceId, id]);
  await refreshRoles(tx, caller, members);
  await audit(tx, caller, "scim.group_deleted", id);
}
