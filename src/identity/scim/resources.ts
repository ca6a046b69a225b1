// What SCIM users and groups share: schema URNs, list answers (filter, startIndex/count paging, attribute
// projection), meta, and the role a person gets from the groups they are in.
import type { Tx } from "../../db/engine.ts";
import { AppError } from "../../errors.ts";
import { appendAudit } from "../../audit/service.ts";
import type { ScimCaller } from "./tokens.ts";
import { matches, member, parseFilter } from "./filter.ts";
import type { Json } from "./patch.ts";

export const USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User";
export const GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group";
export const ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/** Causeloop's group extension: `role` (admin, analyst or viewer) overrides the role read from the name. */
export const GROUP_ROLE_SCHEMA = "urn:causeloop:params:scim:schemas:extension:2.0:Group";
export const LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
export const PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
export const ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";

export const MAX_COUNT = 200;

export interface ListQuery {
  filter?: string;
  startIndex?: number;
  count?: number;
  attributes?: string;
  excludedAttributes?: string;
}

export const invalidValue = (detail: string) => new AppError("bad_request", detail, { scimType: "invalidValue" });

/** Keeps or drops top-level attributes (`attributes` / `excludedAttributes`); id and schemas always stay. */
export function project(resource: Json, query: ListQuery): Json {
  const names = (list?: string) =>
    new Set(
      (list ?? "")
        .split(",")
        .map((n) => n.trim().toLowerCase())
        .filter(Boolean),
    );
  const keep = names(query.attributes);
  const drop = names(query.excludedAttributes);
  if (!keep.size && !drop.size) return resource;
  const always = new Set(["id", "schemas"]);
  return Object.fromEntries(
    Object.entries(resource).filter(([key]) => {
      const k = key.toLowerCase();
      if (always.has(k)) return true;
      if (keep.size) return keep.has(k);
      return !drop.has(k);
    }),
  );
}

/** A ListResponse: the resources matching the filter, from startIndex (1-based), at most count of them. */
export function listResponse(resources: Json[], query: ListQuery): Json {
  const filter = query.filter ? parseFilter(query.filter) : undefined;
  const matching = filter ? resources.filter((r) => matches(r, filter)) : resources;
  const start = Math.max(1, query.startIndex ?? 1);
  const count = Math.min(MAX_COUNT, Math.max(0, query.count ?? MAX_COUNT));
  const page = matching.slice(start - 1, start - 1 + count).map((r) => project(r, query));
  return {
    schemas: [LIST_SCHEMA],
    totalResults: matching.length,
    startIndex: start,
    itemsPerPage: page.length,
    Resources: page,
  };
}

export function meta(resourceType: "User" | "Group", location: string, created: Date, updated: Date): Json {
  return {
    resourceType,
    created: new Date(created).toISOString(),
    lastModified: new Date(updated).toISOString(),
    location,
    version: `W/"${new Date(updated).getTime()}"`,
  };
}

export type ScimRole = "admin" | "analyst" | "viewer";
const RANK: Record<ScimRole, number> = { viewer: 1, analyst: 2, admin: 3 };

/** A group's role from its name when it names none: "…admin…" is admin, "…analyst…" analyst, the rest viewer. */
export function roleFromName(displayName: string): ScimRole {
  if (/admin/i.test(displayName)) return "admin";
  if (/analyst/i.test(displayName)) return "analyst";
  return "viewer";
}

/** A person's role in the workspace: the highest of their groups', viewer when they are in none. */
export async function roleOf(tx: Tx, workspaceId: string, scimUserId: string): Promise<ScimRole> {
  const rows = await tx.query<{ role: ScimRole }>(
    `select g.role from scim_group_members m join scim_groups g on g.workspace_id = m.workspace_id and g.id = m.group_id
      where m.workspace_id = $1 and m.scim_user_id = $2`,
    [workspaceId, scimUserId],
  );
  return rows.reduce<ScimRole>((best, r) => (RANK[r.role] > RANK[best] ? r.role : best), "viewer");
}

export function optionalString(doc: Json, name: string, max: number): string | null {
  const value = member(doc, name);
  if (value === undefined || value === null || value === "") return null;
  if (typeof value !== "string" || value.length > max)
    throw invalidValue(`${name} must be a string of at most ${max} characters`);
  return value;
}

/** How a resource type is read: its rows, what is joined to each (a user's groups, a group's members). */
export interface ResourceKind<R extends { id: string }> {
  name: "User" | "Group";
  select: string;
  related(tx: Tx, workspaceId: string, ids: string[]): Promise<Map<string, Json[]>>;
  toResource(row: R, base: string, related: Json[]): Json;
  /**
   * Attributes with a column of their own (lower-cased name -> SQL expression compared to a text parameter):
   * an `eq` filter on one of them, what providers send before every create, is answered by an index.
   */
  columns?: Record<string, string>;
}

/** The SQL condition for a filter that is one `eq` on a column (the full filter still applies afterwards). */
function indexed(
  kind: ResourceKind<{ id: string }>,
  filter: string | undefined,
): { sql: string; value: string } | undefined {
  if (!filter || !kind.columns) return undefined;
  const parsed = parseFilter(filter);
  if (parsed.op !== "eq" || typeof parsed.value !== "string" || parsed.path.sub) return undefined;
  if (parsed.path.schema && !/^urn:ietf:params:scim:schemas:core:2\.0:(user|group)$/i.test(parsed.path.schema))
    return undefined;
  const sql = kind.columns[parsed.path.attr.toLowerCase()];
  return sql ? { sql, value: parsed.value } : undefined;
}

export async function rowOf<R extends { id: string }>(
  tx: Tx,
  kind: ResourceKind<R>,
  workspaceId: string,
  id: string,
): Promise<R> {
  const [row] = await tx.query<R>(`${kind.select} where workspace_id = $1 and id = $2`, [workspaceId, id]);
  if (!row) throw new AppError("not_found", `${kind.name} ${id} not found`);
  return row;
}

export async function readOne<R extends { id: string }>(
  tx: Tx,
  kind: ResourceKind<R>,
  caller: ScimCaller,
  id: string,
  base: string,
): Promise<Json> {
  const row = await rowOf(tx, kind, caller.workspaceId, id);
  return kind.toResource(row, base, (await kind.related(tx, caller.workspaceId, [id])).get(id) ?? []);
}

/** Every resource of the kind in the workspace, filtered and paged (workspaces provision thousands, not millions). */
export async function readAll<R extends { id: string }>(
  tx: Tx,
  kind: ResourceKind<R>,
  caller: ScimCaller,
  query: ListQuery,
  base: string,
): Promise<Json> {
  const narrow = indexed(kind as unknown as ResourceKind<{ id: string }>, query.filter);
  const rows = await tx.query<R>(
    `${kind.select} where workspace_id = $1 and ${narrow ? narrow.sql.replace("?", "$2") : "true"} order by id`,
    narrow ? [caller.workspaceId, narrow.value] : [caller.workspaceId],
  );
  const related = await kind.related(
    tx,
    caller.workspaceId,
    rows.map((r) => r.id),
  );
  return listResponse(
    rows.map((r) => kind.toResource(r, base, related.get(r.id) ?? [])),
    query,
  );
}

/** A SCIM change in the audit trail: the SCIM token is the actor. */
export function auditScim(
  tx: Tx,
  caller: ScimCaller,
  targetType: "scim_user" | "scim_group",
  action: string,
  id: string,
  after?: Json,
) {
  return appendAudit(tx, {
    workspaceId: caller.workspaceId,
    action,
    actorId: caller.actor.actorId,
    actorType: caller.actor.actorType,
    targetType,
    targetId: id,
    after,
    context: caller.actor.context,
  });
}
