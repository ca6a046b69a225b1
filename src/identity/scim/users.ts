// SCIM Users: a provisioned person is a (global) account plus this workspace's record of what the identity
// provider sent, and a membership while active. Deactivation (active=false, from a PUT or a PATCH) and DELETE
// deprovision in the request's transaction: membership removed, sessions (and their refresh tokens) and
// personal access tokens here revoked. SCIM never changes the account itself (its email, password or name).
import type { Tx } from "../../db/engine.ts";
import { AppError } from "../../errors.ts";
import { newId } from "../../ids.ts";
import { activeOwners, revokeWorkspaceAccess } from "../members.ts";
import { member } from "./filter.ts";
import { scimBoolean, type Json } from "./patch.ts";
import {
  ENTERPRISE_SCHEMA,
  USER_SCHEMA,
  auditScim,
  invalidValue,
  meta,
  optionalString,
  readOne,
  roleOf,
  rowOf,
  type ResourceKind,
} from "./resources.ts";
import type { ScimCaller } from "./tokens.ts";

interface UserRow {
  id: string;
  user_id: string;
  user_name: string;
  external_id: string | null;
  display_name: string | null;
  attributes: Json;
  active: boolean;
  created_at: Date;
  updated_at: Date;
}

interface UserInput {
  userName: string;
  externalId: string | null;
  displayName: string | null;
  active: boolean;
  attributes: Json;
}

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
/** Attributes kept in their own columns, derived, or never stored (a password is not ours to keep). */
const NOT_ATTRIBUTES = new Set([
  "schemas",
  "id",
  "meta",
  "groups",
  "password",
  "username",
  "externalid",
  "displayname",
  "active",
]);

/** The document as stored; `active` when it says nothing: true for a new user, the current state on a PUT. */
function readUser(doc: Json, activeByDefault = true): UserInput {
  const userName = member(doc, "userName");
  if (typeof userName !== "string" || !userName.trim() || userName.length > 254)
    throw invalidValue("userName is required (a string of at most 254 characters)");
  const active = member(doc, "active");
  return {
    userName: userName.trim(),
    externalId: optionalString(doc, "externalId", 255),
    displayName: optionalString(doc, "displayName", 256),
    active: active === undefined || active === null ? activeByDefault : scimBoolean(active, "active"),
    attributes: Object.fromEntries(Object.entries(doc).filter(([k]) => !NOT_ATTRIBUTES.has(k.toLowerCase()))),
  };
}

/** The account's email: the userName when it is one, else the primary (or first) email. */
function accountEmail(input: UserInput): string {
  if (EMAIL.test(input.userName)) return input.userName.toLowerCase();
  const emails = member(input.attributes, "emails");
  const list = Array.isArray(emails) ? (emails as Json[]) : [];
  const primary = list.find((e) => member(e, "primary") === true || member(e, "primary") === "True") ?? list[0];
  const value = primary ? member(primary, "value") : undefined;
  if (typeof value === "string" && EMAIL.test(value) && value.length <= 254) return value.toLowerCase();
  throw invalidValue("a user needs an email address: a userName that is one, or an entry in emails");
}

const SELECT = `select id, user_id, user_name, external_id, display_name, attributes, active, created_at, updated_at from scim_users`;

async function groupsOf(tx: Tx, workspaceId: string, ids: string[]): Promise<Map<string, Json[]>> {
  const rows = await tx.query<{ scim_user_id: string; value: string; display: string }>(
    `select m.scim_user_id, g.id as value, g.display_name as display
       from scim_group_members m join scim_groups g on g.workspace_id = m.workspace_id and g.id = m.group_id
      where m.workspace_id = $1 and m.scim_user_id = any($2::text[]) order by g.id`,
    [workspaceId, ids],
  );
  const out = new Map<string, Json[]>();
  for (const r of rows)
    out.set(r.scim_user_id, [
      ...(out.get(r.scim_user_id) ?? []),
      { value: r.value, display: r.display, type: "direct" },
    ]);
  return out;
}

function toResource(row: UserRow, base: string, groups: Json[]): Json {
  const attributes = row.attributes ?? {};
  return {
    schemas: [USER_SCHEMA, ...(member(attributes, ENTERPRISE_SCHEMA) ? [ENTERPRISE_SCHEMA] : [])],
    id: row.id,
    ...(row.external_id ? { externalId: row.external_id } : {}),
    userName: row.user_name,
    ...(row.display_name ? { displayName: row.display_name } : {}),
    ...attributes,
    active: row.active,
    groups: groups.map((g) => ({ ...g, $ref: `${base}/Groups/${g.value}` })),
    meta: meta("User", `${base}/Users/${row.id}`, row.created_at, row.updated_at),
  };
}

/** How users are read: a list answer is `readAll(USERS, ...)`, one is `readOne(USERS, ...)`. */
export const USERS: ResourceKind<UserRow> = {
  name: "User",
  select: SELECT,
  related: groupsOf,
  toResource,
  // userName is case-insensitive (its unique index is on lower(user_name)); id and externalId are exact.
  columns: {
    username: "lower(user_name) = lower(?)",
    externalid: "external_id = ?",
    id: "id = ?",
  },
};
const userRow = (tx: Tx, workspaceId: string, id: string) => rowOf(tx, USERS, workspaceId, id);

/** Gives the person an active membership with the role of their groups (an owner stays owner). */
export async function grantAccess(tx: Tx, caller: ScimCaller, scimUserId: string, userId: string): Promise<void> {
  const role = await roleOf(tx, caller.workspaceId, scimUserId);
  const [current] = await tx.query<{ id: string; role: string; status: string }>(
    "select id, role, status from memberships where workspace_id = $1 and user_id = $2",
    [caller.workspaceId, userId],
  );
  if (!current) {
    await tx.query(
      "insert into memberships (workspace_id, id, user_id, role, status, invited_by) values ($1, $2, $3, $4, 'active', $5)",
      [caller.workspaceId, newId("mem"), userId, role, caller.tokenId],
    );
    return;
  }
  const keepOwner = current.role === "owner" && current.status === "active";
  await tx.query(
    `update memberships set status = 'active', role = $3, deleted_at = null, invite_token_hash = null, invite_expires_at = null
      where workspace_id = $1 and id = $2`,
    [caller.workspaceId, current.id, keepOwner ? "owner" : role],
  );
}

/** Deprovisions: refuses to remove an owner with an admin's token, or the last owner with any. */
async function revokeAccess(tx: Tx, caller: ScimCaller, userId: string): Promise<void> {
  const [current] = await tx.query<{ role: string; status: string }>(
    "select role, status from memberships where workspace_id = $1 and user_id = $2",
    [caller.workspaceId, userId],
  );
  if (current?.role === "owner" && current.status === "active") {
    if (caller.role !== "owner")
      throw new AppError("forbidden", "a SCIM token created by an admin cannot deprovision an owner");
    if ((await activeOwners(tx, caller.workspaceId)) <= 1)
      throw new AppError("conflict", "the last owner cannot be deprovisioned", { scimType: "mutability" });
  }
  await revokeWorkspaceAccess(tx, caller.workspaceId, userId, "deprovisioned");
}

async function assertUniqueName(tx: Tx, workspaceId: string, userName: string, except?: string): Promise<void> {
  const [taken] = await tx.query(
    "select 1 from scim_users where workspace_id = $1 and lower(user_name) = lower($2) and id is distinct from $3",
    [workspaceId, userName, except ?? null],
  );
  if (taken) throw new AppError("conflict", `userName ${userName} is already provisioned`, { scimType: "uniqueness" });
}

const audit = (tx: Tx, caller: ScimCaller, action: string, id: string, after?: Json) =>
  auditScim(tx, caller, "scim_user", action, id, after);

/**
 * The account for an email: a new one belongs to this workspace's identity provider (no password, ever; the
 * same binding as SSO's just-in-time accounts, connection "scim"); an existing one is linked as it is.
 */
async function accountFor(tx: Tx, email: string): Promise<string> {
  const [fresh] = await tx.query<{ id: string | null }>("select auth_provision_idp_user($1, 'scim') as id", [email]);
  if (fresh?.id) return fresh.id;
  const [existing] = await tx.query<{ id: string }>("select auth_ensure_user($1) as id", [email]);
  return existing?.id as string;
}

export async function createUser(tx: Tx, caller: ScimCaller, doc: Json, base: string): Promise<Json> {
  const input = readUser(doc);
  await assertUniqueName(tx, caller.workspaceId, input.userName);
  const userId = await accountFor(tx, accountEmail(input));
  const [linked] = await tx.query("select 1 from scim_users where workspace_id = $1 and user_id = $2", [
    caller.workspaceId,
    userId,
  ]);
  if (linked) throw new AppError("conflict", "this person is already provisioned", { scimType: "uniqueness" });
  const id = newId("scu");
  await tx.query(
    `insert into scim_users (workspace_id, id, user_id, user_name, external_id, display_name, attributes, active)
     values ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)`,
    [
      caller.workspaceId,
      id,
      userId,
      input.userName,
      input.externalId,
      input.displayName,
      JSON.stringify(input.attributes),
      input.active,
    ],
  );
  if (input.active) await grantAccess(tx, caller, id, userId);
  await audit(tx, caller, "scim.user_created", id, { user_id: userId, active: input.active });
  return readOne(tx, USERS, caller, id, base);
}

/** PUT: the document replaces what the provider sent before; a change of `active` (de)provisions. */
export async function replaceUser(tx: Tx, caller: ScimCaller, id: string, doc: Json, base: string): Promise<Json> {
  const current = await userRow(tx, caller.workspaceId, id);
  // A PUT that leaves `active` out never re-provisions (or deprovisions) anyone.
  const input = readUser(doc, current.active);
  await assertUniqueName(tx, caller.workspaceId, input.userName, id);
  await tx.query(
    `update scim_users set user_name = $3, external_id = $4, display_name = $5, attributes = $6::jsonb, active = $7
      where workspace_id = $1 and id = $2`,
    [
      caller.workspaceId,
      id,
      input.userName,
      input.externalId,
      input.displayName,
      JSON.stringify(input.attributes),
      input.active,
    ],
  );
  if (current.active && !input.active) await revokeAccess(tx, caller, current.user_id);
  if (!current.active && input.active) await grantAccess(tx, caller, id, current.user_id);
  const action =
    current.active === input.active
      ? "scim.user_updated"
      : input.active
        ? "scim.user_reactivated"
        : "scim.user_deactivated";
  await audit(tx, caller, action, id, { active: input.active });
  return readOne(tx, USERS, caller, id, base);
}

export async function deleteUser(tx: Tx, caller: ScimCaller, id: string): Promise<void> {
  const current = await userRow(tx, caller.workspaceId, id);
  await revokeAccess(tx, caller, current.user_id);
  await tx.query("delete from scim_users where workspace_id = $1 and id = $2", [caller.workspaceId, id]);
  await audit(tx, caller, "scim.user_deleted", id, { user_id: current.user_id });
}
