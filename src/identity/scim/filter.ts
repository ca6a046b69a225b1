// SCIM filters (RFC 7644 §3.4.2.2) and attribute paths (§3.5.2): a small recursive-descent parser and an
// evaluator over a resource's JSON. Attribute names and the comparison of strings are case-insensitive,
// except for caseExact attributes (id, externalId). Bounded: a filter longer than MAX_FILTER_LENGTH or
// nested deeper than MAX_DEPTH is refused as invalidFilter, never a stack overflow.
import { AppError } from "../../errors.ts";

export const MAX_FILTER_LENGTH = 4096;
const MAX_DEPTH = 32;

export type CompareOp = "eq" | "ne" | "co" | "sw" | "ew" | "gt" | "ge" | "lt" | "le";
const COMPARE_OPS = new Set<string>(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]);
export type Literal = string | number | boolean | null;

/** An attribute path: an optional schema URN, the attribute, an optional sub-attribute. */
export interface AttrPath {
  schema?: string;
  attr: string;
  sub?: string;
}

export type Filter =
  | { op: "and" | "or"; left: Filter; right: Filter }
  | { op: "not"; filter: Filter }
  | { op: "pr"; path: AttrPath }
  | { op: CompareOp; path: AttrPath; value: Literal }
  | { op: "valuePath"; path: AttrPath; filter: Filter };

/** A PATCH operation's target: an attribute, optionally narrowed by a filter on its values, and a sub-attribute. */
export interface PatchPath {
  path: AttrPath;
  filter?: Filter;
  sub?: string;
}

type Token = { kind: "word" | "string" | "number" | "(" | ")" | "[" | "]" | "."; text: string; value?: Literal };

const invalid = (detail: string, scimType = "invalidFilter") => new AppError("bad_request", detail, { scimType });

function tokenize(input: string, scimType: string): Token[] {
  if (input.length > MAX_FILTER_LENGTH)
    throw invalid(
      `the ${scimType === "invalidPath" ? "path" : "filter"} is longer than ${MAX_FILTER_LENGTH} characters`,
      scimType,
    );
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if ("()[]".includes(c)) {
      tokens.push({ kind: c as Token["kind"], text: c });
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < input.length && input[j] !== '"') j += input[j] === "\\" ? 2 : 1;
      if (j >= input.length) throw invalid("an unterminated string in the filter", scimType);
      const text = input.slice(i, j + 1);
      let value: string;
      try {
        value = JSON.parse(text) as string;
      } catch {
        throw invalid("an invalid string literal in the filter", scimType);
      }
      // Escapes must not smuggle in what the front door refuses in raw text (NUL, unpaired surrogates).
      if (value.includes("\u0000") || !value.isWellFormed())
        throw invalid("a string literal in the filter holds a NUL or an unpaired surrogate", scimType);
      tokens.push({ kind: "string", text, value });
      i = j + 1;
    } else if (c === "." && tokens.at(-1)?.kind === "]") {
      tokens.push({ kind: ".", text: "." });
      i++;
    } else {
      const match = /^[A-Za-z0-9_$:.+-]+/.exec(input.slice(i));
      if (!match) throw invalid(`an unexpected character "${c}" in the filter`, scimType);
      const text = match[0];
      const number = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(text);
      tokens.push(number ? { kind: "number", text, value: Number(text) } : { kind: "word", text });
      i += text.length;
    }
  }
  return tokens;
}

/** Splits `urn:...:User:name.givenName` into its schema, attribute and sub-attribute. */
export function parseAttrPath(text: string, scimType = "invalidFilter"): AttrPath {
  let schema: string | undefined;
  let rest = text;
  if (/^urn:/i.test(text)) {
    const cut = text.lastIndexOf(":");
    schema = text.slice(0, cut);
    rest = text.slice(cut + 1);
  }
  const parts = rest.split(".");
  if (parts.length > 2 || !parts.every((p) => /^[A-Za-z$][A-Za-z0-9_$-]*$/.test(p)))
    throw invalid(`"${text}" is not an attribute path`, scimType);
  return { schema, attr: parts[0] as string, sub: parts[1] };
}

class Parser {
  private at = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly scimType: string,
  ) {}

  peek(): Token | undefined {
    return this.tokens[this.at];
  }
  next(): Token {
    const token = this.tokens[this.at++];
    if (!token) throw invalid("the filter ends too early", this.scimType);
    return token;
  }
  done(): boolean {
    return this.at >= this.tokens.length;
  }
  private keyword(word: string): boolean {
    const token = this.peek();
    if (token?.kind === "word" && token.text.toLowerCase() === word) {
      this.at++;
      return true;
    }
    return false;
  }

  or(depth: number): Filter {
    if (depth > MAX_DEPTH) throw invalid("the filter is nested too deeply", this.scimType);
    let left = this.and(depth);
    while (this.keyword("or")) left = { op: "or", left, right: this.and(depth) };
    return left;
  }
  private and(depth: number): Filter {
    let left = this.unary(depth);
    while (this.keyword("and")) left = { op: "and", left, right: this.unary(depth) };
    return left;
  }
  private unary(depth: number): Filter {
    if (this.keyword("not")) {
      if (this.next().kind !== "(") throw invalid('"not" must be followed by "("', this.scimType);
      const filter = this.or(depth + 1);
      this.expect(")");
      return { op: "not", filter };
    }
    if (this.peek()?.kind === "(") {
      this.next();
      const filter = this.or(depth + 1);
      this.expect(")");
      return filter;
    }
    return this.comparison(depth);
  }
  private comparison(depth: number): Filter {
    const token = this.next();
    if (token.kind !== "word") throw invalid(`expected an attribute, found "${token.text}"`, this.scimType);
    const path = parseAttrPath(token.text, this.scimType);
    if (this.peek()?.kind === "[") {
      this.next();
      const filter = this.or(depth + 1);
      this.expect("]");
      return { op: "valuePath", path, filter };
    }
    const op = this.next();
    const name = op.text.toLowerCase();
    if (op.kind === "word" && name === "pr") return { op: "pr", path };
    if (op.kind !== "word" || !COMPARE_OPS.has(name))
      throw invalid(`"${op.text}" is not a comparison operator`, this.scimType);
    const value = this.next();
    if (value.kind === "string" || value.kind === "number")
      return { op: name as CompareOp, path, value: value.value ?? null };
    const literal = value.text.toLowerCase();
    if (value.kind === "word" && (literal === "true" || literal === "false" || literal === "null"))
      return { op: name as CompareOp, path, value: literal === "null" ? null : literal === "true" };
    throw invalid(`"${value.text}" is not a value (strings are quoted)`, this.scimType);
  }
  expect(kind: Token["kind"]): void {
    const token = this.next();
    if (token.kind !== kind) throw invalid(`expected "${kind}", found "${token.text}"`, this.scimType);
  }
}

export function parseFilter(input: string): Filter {
  const parser = new Parser(tokenize(input, "invalidFilter"), "invalidFilter");
  if (parser.done()) throw invalid("the filter is empty");
  const filter = parser.or(0);
  if (!parser.done()) throw invalid(`unexpected "${parser.peek()?.text}" in the filter`);
  return filter;
}

/** A PATCH `path`: `members`, `name.familyName`, `members[value eq "x"]`, `emails[type eq "work"].value`. */
export function parsePatchPath(input: string): PatchPath {
  const parser = new Parser(tokenize(input, "invalidPath"), "invalidPath");
  const head = parser.next();
  if (head.kind !== "word") throw invalid(`"${input}" is not an attribute path`, "invalidPath");
  const path = parseAttrPath(head.text, "invalidPath");
  if (parser.done()) return { path };
  parser.expect("[");
  const filter = parser.or(1);
  parser.expect("]");
  let sub: string | undefined;
  if (!parser.done()) {
    parser.expect(".");
    const word = parser.next();
    if (word.kind !== "word" || !/^[A-Za-z$][A-Za-z0-9_$-]*$/.test(word.text))
      throw invalid(`"${input}" is not an attribute path`, "invalidPath");
    sub = word.text;
  }
  if (!parser.done() || path.sub) throw invalid(`"${input}" is not an attribute path`, "invalidPath");
  return { path, filter, sub };
}

// ------------------------------------------------------------------ evaluation

const CASE_EXACT = new Set(["id", "externalid"]);
type Json = Record<string, unknown>;

/** The member of an object whose name matches case-insensitively. */
export function member(object: unknown, name: string): unknown {
  if (!object || typeof object !== "object" || Array.isArray(object)) return undefined;
  const key = Object.keys(object).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : (object as Json)[key];
}

/** The values at a path (a multi-valued attribute yields each of its values). */
export function valuesAt(resource: Json, path: AttrPath): unknown[] {
  const core = !path.schema || /^urn:ietf:params:scim:schemas:core:2\.0:(user|group)$/i.test(path.schema);
  const base = core ? resource : member(resource, path.schema as string);
  const top = member(base, path.attr);
  const items = Array.isArray(top) ? top : top === undefined ? [] : [top];
  if (!path.sub) return items;
  return items.flatMap((item) => {
    const value = member(item, path.sub as string);
    return Array.isArray(value) ? value : value === undefined ? [] : [value];
  });
}

function compare(op: CompareOp, actual: unknown, expected: Literal, caseExact: boolean): boolean {
  if (expected === null) return op === "eq" ? actual === null : op === "ne" ? actual !== null : false;
  if (typeof actual === "string" && typeof expected === "string") {
    const a = caseExact ? actual : actual.toLowerCase();
    const e = caseExact ? expected : expected.toLowerCase();
    switch (op) {
      case "eq":
        return a === e;
      case "ne":
        return a !== e;
      case "co":
        return a.includes(e);
      case "sw":
        return a.startsWith(e);
      case "ew":
        return a.endsWith(e);
      case "gt":
        return a > e;
      case "ge":
        return a >= e;
      case "lt":
        return a < e;
      case "le":
        return a <= e;
    }
  }
  if (typeof actual === "boolean" || typeof expected === "boolean")
    return op === "eq" ? actual === expected : op === "ne" ? actual !== expected : false;
  if (typeof actual === "number" && typeof expected === "number") {
    const ops: Record<string, boolean> = {
      eq: actual === expected,
      ne: actual !== expected,
      gt: actual > expected,
      ge: actual >= expected,
      lt: actual < expected,
      le: actual <= expected,
    };
    return ops[op] ?? false;
  }
  return op === "ne";
}

const present = (v: unknown) =>
  v !== null &&
  v !== undefined &&
  v !== "" &&
  !(Array.isArray(v) && v.length === 0) &&
  !(typeof v === "object" && !Array.isArray(v) && Object.keys(v as object).length === 0);

/** Whether the resource (or one value of a multi-valued attribute, inside a value path) matches. */
export function matches(resource: Json, filter: Filter): boolean {
  switch (filter.op) {
    case "and":
      return matches(resource, filter.left) && matches(resource, filter.right);
    case "or":
      return matches(resource, filter.left) || matches(resource, filter.right);
    case "not":
      return !matches(resource, filter.filter);
    case "pr":
      return valuesAt(resource, filter.path).some(present);
    case "valuePath":
      return valuesAt(resource, { schema: filter.path.schema, attr: filter.path.attr }).some(
        (value) => value !== null && typeof value === "object" && matches(value as Json, filter.filter),
      );
    default: {
      // A complex attribute compared as a whole (`emails co "x"`) is compared by its `value` (RFC 7644 §3.4.2.2).
      const values = valuesAt(resource, filter.path).map((v) =>
        v !== null && typeof v === "object" ? member(v, "value") : v,
      );
      const exact = CASE_EXACT.has((filter.path.sub ?? filter.path.attr).toLowerCase());
      if (filter.op === "ne") return values.length === 0 || values.every((v) => compare("ne", v, filter.value, exact));
      return values.some((v) => compare(filter.op as CompareOp, v, filter.value, exact));
    }
  }
}
