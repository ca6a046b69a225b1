// SCIM PATCH (RFC 7644 §3.5.2) applied to a resource's JSON: add, replace and remove, with or without a
// path, value filters (`members[value eq "x"]`, `emails[type eq "work"].value`) and extension URNs. The
// service then stores the patched document as it would a PUT. Lenient where the common clients need it:
// op names in any case (Entra's "Replace"), boolean strings ("False"), dotted keys in a path-less value,
// and a `remove` of `members` carrying the values to remove.
import { AppError } from "../../errors.ts";
import { matches, member, parsePatchPath, type AttrPath, type Filter } from "./filter.ts";

export type Json = Record<string, unknown>;
export interface PatchOperation {
  op: string;
  path?: string;
  value?: unknown;
}

const bad = (detail: string, scimType = "invalidValue") => new AppError("bad_request", detail, { scimType });

/** The key of `object` that names `name` case-insensitively, or `name` itself when there is none. */
function keyOf(object: Json, name: string): string {
  return Object.keys(object).find((k) => k.toLowerCase() === name.toLowerCase()) ?? name;
}

const isObject = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);

/** The object an attribute path lives in: the resource, or its extension's object (created when asked). */
function container(doc: Json, path: AttrPath, create: boolean): Json | undefined {
  if (!path.schema || /^urn:ietf:params:scim:schemas:core:2\.0:(user|group)$/i.test(path.schema)) return doc;
  const key = keyOf(doc, path.schema);
  if (!isObject(doc[key])) {
    if (!create) return undefined;
    doc[key] = {};
  }
  return doc[key] as Json;
}

/** Multi-valued values are the same when their `value` is (or, without one, when they are equal as JSON). */
function sameValue(a: unknown, b: unknown): boolean {
  const va = member(a, "value");
  const vb = member(b, "value");
  if (va !== undefined || vb !== undefined) return va === vb;
  return JSON.stringify(a) === JSON.stringify(b);
}

function addValues(existing: unknown, value: unknown): unknown {
  const incoming = Array.isArray(value) ? value : [value];
  const current = Array.isArray(existing) ? existing : existing === undefined ? [] : [existing];
  return [...current.filter((c) => !incoming.some((i) => sameValue(c, i))), ...incoming];
}

function setAttribute(doc: Json, path: AttrPath, value: unknown, op: "add" | "replace"): void {
  const target = container(doc, path, true) as Json;
  const key = keyOf(target, path.attr);
  if (path.sub) {
    if (!isObject(target[key])) target[key] = {};
    (target[key] as Json)[keyOf(target[key] as Json, path.sub)] = value;
    return;
  }
  if (op === "add" && (Array.isArray(target[key]) || Array.isArray(value))) target[key] = addValues(target[key], value);
  else if (op === "add" && isObject(target[key]) && isObject(value)) Object.assign(target[key] as Json, value);
  else target[key] = value;
}

function removeAttribute(doc: Json, path: AttrPath, value: unknown): void {
  const target = container(doc, path, false);
  if (!target) return;
  const key = keyOf(target, path.attr);
  if (path.sub) {
    if (isObject(target[key])) delete (target[key] as Json)[keyOf(target[key] as Json, path.sub)];
    return;
  }
  // Entra removes group members with `{"op":"remove","path":"members","value":[{"value":"id"}]}`.
  if (value !== undefined && Array.isArray(target[key])) {
    const gone = Array.isArray(value) ? value : [value];
    target[key] = (target[key] as unknown[]).filter((v) => !gone.some((g) => sameValue(v, g)));
    return;
  }
  delete target[key];
}

/** `type eq "work"`: the element a filtered add creates when none matches. */
function seedOf(filter: Filter): Json | undefined {
  return filter.op === "eq" && !filter.path.sub && !filter.path.schema
    ? { [filter.path.attr]: filter.value }
    : undefined;
}

function applyFiltered(doc: Json, op: string, path: AttrPath, filter: Filter, sub: string | undefined, value: unknown) {
  const target = container(doc, path, op !== "remove");
  if (!target) return;
  const key = keyOf(target, path.attr);
  const list = Array.isArray(target[key]) ? (target[key] as unknown[]) : [];
  const hit = (v: unknown) => isObject(v) && matches(v, filter);
  if (op === "remove") {
    target[key] = sub
      ? list.map((v) =>
          hit(v)
            ? Object.fromEntries(Object.entries(v as Json).filter(([k]) => k.toLowerCase() !== sub.toLowerCase()))
            : v,
        )
      : list.filter((v) => !hit(v));
    return;
  }
  if (!list.some(hit)) {
    const seed = seedOf(filter);
    if (!seed || !sub) throw bad(`no value of ${path.attr} matches the filter`, "noTarget");
    target[key] = [...list, { ...seed, [sub]: value }];
    return;
  }
  target[key] = list.map((v) => {
    if (!hit(v)) return v;
    if (sub) return { ...(v as Json), [keyOf(v as Json, sub)]: value };
    return op === "add" && isObject(value) ? { ...(v as Json), ...value } : value;
  });
}

/** A path-less add or replace: every member of the value object is a path of its own (dotted or a URN). */
function applyWithoutPath(doc: Json, op: "add" | "replace", value: unknown): void {
  if (!isObject(value)) throw bad(`a ${op} without a path needs an object value`, "invalidSyntax");
  for (const [name, inner] of Object.entries(value)) {
    if (/^urn:/i.test(name) && isObject(inner)) {
      const extension = container(doc, { schema: name, attr: "" }, true) as Json;
      for (const [attr, v] of Object.entries(inner)) setAttribute(extension, { attr }, v, op);
    } else {
      const { path } = parsePatchPath(name);
      setAttribute(doc, path, inner, op);
    }
  }
}

/** Applies the operations in order to a copy of the document; any failure leaves the resource unchanged. */
export function applyPatch(document: Json, operations: PatchOperation[]): Json {
  const doc = structuredClone(document);
  for (const operation of operations) {
    const op = String(operation.op ?? "").toLowerCase();
    if (op !== "add" && op !== "replace" && op !== "remove")
      throw bad(`"${operation.op}" is not a PATCH operation (add, replace, remove)`, "invalidSyntax");
    if (operation.path === undefined || operation.path === "") {
      if (op === "remove") throw bad("a remove needs a path", "noTarget");
      applyWithoutPath(doc, op, operation.value);
      continue;
    }
    if (typeof operation.path !== "string") throw bad("path must be a string", "invalidPath");
    const { path, filter, sub } = parsePatchPath(operation.path);
    if (op !== "remove" && operation.value === undefined) throw bad(`${op} needs a value`, "invalidSyntax");
    if (filter) applyFiltered(doc, op, path, filter, sub, operation.value);
    else if (op === "remove") removeAttribute(doc, path, operation.value);
    else setAttribute(doc, path, operation.value, op);
  }
  return doc;
}

/** SCIM booleans as clients send them: true, "True", "false" (Entra sends strings). */
export function scimBoolean(value: unknown, name: string): boolean {
  if (typeof value === "boolean") return value;
  if (typeof value === "string" && /^(true|false)$/i.test(value)) return value.toLowerCase() === "true";
  throw bad(`${name} must be a boolean`);
}

/** PATCH as RFC 7644 describes it: the operations applied to the current representation, stored as a PUT. */
export async function patchWith(
  read: () => Promise<Json>,
  replace: (document: Json) => Promise<Json>,
  operations: PatchOperation[],
): Promise<Json> {
  return replace(applyPatch(await read(), operations));
}
