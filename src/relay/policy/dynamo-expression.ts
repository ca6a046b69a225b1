// Reads the attribute paths out of a DynamoDB key condition or filter expression. A tokenizer, not a full
// parser: DynamoDB parses the expression itself; the relay only needs every attribute it touches, and refuses
// any character or function it does not recognize rather than guess.

const FUNCTIONS = new Set([
  "attribute_exists",
  "attribute_not_exists",
  "attribute_type",
  "begins_with",
  "contains",
  "size",
]);
const KEYWORDS = new Set(["and", "or", "not", "between", "in"]);
const TOKEN = /\s+|#[A-Za-z0-9_]+|:[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*|\d+|<>|<=|>=|[=<>(),.[\]]/y;

export class ExpressionRefused extends Error {}

function tokenize(expr: string): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < expr.length) {
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(expr);
    if (!m) throw new ExpressionRefused(`unexpected character ${JSON.stringify(expr[at])} in ${JSON.stringify(expr)}`);
    if (!/^\s+$/.test(m[0])) tokens.push(m[0]);
  }
  return tokens;
}

export interface ExpressionRefs {
  /** Attribute paths with placeholders resolved, "a.b[0].c" written as "a.b.c". */
  paths: string[];
  names: string[];
  values: string[];
}

/** The attribute paths, #names and :values an expression uses; throws ExpressionRefused on anything unknown. */
export function expressionRefs(expr: string, names: Readonly<Record<string, string>>): ExpressionRefs {
  const tokens = tokenize(expr);
  const refs: ExpressionRefs = { paths: [], names: [], values: [] };
  const segment = (t: string): string => {
    if (!t.startsWith("#")) return t;
    const resolved = names[t];
    if (resolved === undefined) throw new ExpressionRefused(`${t} is used but not defined in names`);
    refs.names.push(t);
    return resolved;
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] ?? "";
    if (t.startsWith(":")) {
      refs.values.push(t);
      continue;
    }
    const isName = t.startsWith("#") || /^[A-Za-z_]/.test(t);
    if (!isName) continue;
    if (!t.startsWith("#") && KEYWORDS.has(t.toLowerCase())) continue;
    if (tokens[i + 1] === "(") {
      if (!FUNCTIONS.has(t)) throw new ExpressionRefused(`function ${JSON.stringify(t)} is not recognized`);
      continue;
    }
    const path = [segment(t)];
    // Follow ".x" and "[n]" so "a.b" is checked as one path and not as two top-level attributes.
    while (tokens[i + 1] === "." || tokens[i + 1] === "[") {
      if (tokens[i + 1] === "[") {
        if (!/^\d+$/.test(tokens[i + 2] ?? "") || tokens[i + 3] !== "]")
          throw new ExpressionRefused(`malformed list index in ${JSON.stringify(expr)}`);
        i += 3;
        continue;
      }
      const next = tokens[i + 2] ?? "";
      if (!next.startsWith("#") && !/^[A-Za-z_]/.test(next))
        throw new ExpressionRefused(`malformed attribute path in ${JSON.stringify(expr)}`);
      path.push(segment(next));
      i += 2;
    }
    refs.paths.push(path.join("."));
  }
  return refs;
}
