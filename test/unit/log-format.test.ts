// Log lines as a person at a terminal reads them (CAUSELOOP_LOG_FORMAT=text, or auto on a terminal): one line per
// event, the JSON line's fields as key=value, and the same redaction as JSON: no token, password, email or URL
// credential, and no control character that could forge a second line or repaint the terminal.
import { expect, test } from "bun:test";
import { createLogger, resolveLogFormat, textLine } from "../../src/log.ts";

const SECRETS = {
  email: "alice@example.com",
  pat: "clp_pat_AbCdEf0123456789xyz",
  jwt: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c3IifQ.c2lnbmF0dXJl",
  password: "hunter2-correct-horse",
  urlPassword: "s3cr3t-db-pass",
};

function logged(format: "json" | "text", fields: Record<string, unknown>): string[] {
  const lines: string[] = [];
  createLogger("info", (line) => lines.push(line), format).warn("login.failed", fields);
  return lines;
}

const risky = {
  detail: `sign-in for ${SECRETS.email} with ${SECRETS.pat}`,
  authorization: `Bearer ${SECRETS.jwt}`,
  error: `password=${SECRETS.password}`,
  database: `postgres://app:${SECRETS.urlPassword}@db:5432/causeloop`,
  nested: { who: SECRETS.email, list: [SECRETS.pat] },
};

test("the text format is one readable line: time, level, event, then key=value fields", () => {
  const [line] = logged("text", { status: 200, route: "/v1/issues/:id", request_id: "req_1", ok: true });
  expect(line).toMatch(
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN {2}login\.failed status=200 route=\/v1\/issues\/:id request_id=req_1 ok=true$/,
  );
});

test("values with spaces, quotes or line breaks are quoted and escaped, so an event stays one line", () => {
  const [line = ""] = logged("text", {
    detail: 'two words "quoted"',
    stack: "Error: boom\n    at handler\u001b[2J",
    empty: "",
    skipped: undefined,
    when: new Date("2030-01-02T03:04:05.000Z"),
    obj: { a: 1 },
  });
  expect(line.split("\n")).toHaveLength(1);
  expect(line).not.toContain("\u001b");
  expect(line).toContain('detail="two words \\"quoted\\""');
  expect(line).toContain('stack="Error: boom\\n    at handler\\u001b[2J"');
  expect(line).toContain('empty=""');
  expect(line).not.toContain("skipped");
  expect(line).toContain("when=2030-01-02T03:04:05.000Z");
  expect(line).toContain('obj={"a":1}');
});

test("redaction holds in the text format exactly as in JSON", () => {
  for (const format of ["text", "json"] as const) {
    const [line = ""] = logged(format, risky);
    for (const secret of Object.values(SECRETS)) expect(line).not.toContain(secret);
    expect(line).toContain("<email>");
    expect(line).toContain("<token>");
    expect(line).toContain("<jwt>");
    expect(line).toContain("postgres://app:***@db");
  }
  // The same fields, the same redacted values: text is a rendering of the JSON line, not a second path.
  const [json = "{}"] = logged("json", risky);
  const [text = ""] = logged("text", risky);
  const record = JSON.parse(json) as Record<string, unknown>;
  const withoutTime = (line: string) => line.slice(line.indexOf(" "));
  expect(withoutTime(text)).toBe(withoutTime(textLine(record)));
});

test("auto is text on a terminal and JSON otherwise; json and text are forced either way", () => {
  expect(resolveLogFormat("auto", true)).toBe("text");
  expect(resolveLogFormat("auto", false)).toBe("json");
  expect(resolveLogFormat("json", true)).toBe("json");
  expect(resolveLogFormat("text", false)).toBe("text");
  const [line = ""] = logged("json", { status: 200 });
  expect(JSON.parse(line)).toMatchObject({ level: "warn", event: "login.failed", status: 200 });
  expect(JSON.parse(line).trace_id).toBeUndefined();
});
