// The SCIM filter grammar (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2): the RFC's own examples parse and
// match as the RFC says; malformed, overlong or deeply nested filters are refused as invalidFilter.
import { describe, expect, test } from "bun:test";
import type { AppError } from "../../src/errors.ts";
import { MAX_FILTER_LENGTH, matches, parseFilter, parsePatchPath } from "../../src/identity/scim/filter.ts";
import { applyPatch, scimBoolean } from "../../src/identity/scim/patch.ts";

const bjensen = {
  id: "2819c223-7f76-453a-919d-413861904646",
  externalId: "bjensen",
  userName: "bjensen@example.com",
  name: { familyName: "Jensen", givenName: "Barbara" },
  title: "Tour Guide",
  userType: "Employee",
  active: true,
  emails: [
    { value: "bjensen@example.com", type: "work", primary: true },
    { value: "babs@jensen.org", type: "home" },
  ],
  meta: { lastModified: "2011-05-13T04:42:34Z", resourceType: "User" },
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { employeeNumber: "701984" },
};

const scimTypeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return (error as AppError).extra?.scimType;
  }
  return undefined;
};

describe("SCIM filters", () => {
  // RFC 7644 §3.4.2.2's examples, each with whether it matches bjensen.
  const examples: [string, boolean][] = [
    ['userName Eq "john"', false],
    ['Username eq "BJENSEN@example.com"', true],
    ['name.familyName co "O\'Malley"', false],
    ['userName sw "J"', false],
    ['urn:ietf:params:scim:schemas:core:2.0:User:userName sw "b"', true],
    ["title pr", true],
    ['meta.lastModified gt "2011-05-13T04:42:34Z"', false],
    ['meta.lastModified ge "2011-05-13T04:42:34Z"', true],
    ['meta.lastModified lt "2011-05-13T04:42:34Z"', false],
    ['meta.lastModified le "2011-05-13T04:42:34Z"', true],
    ['title pr and userType eq "Employee"', true],
    ['title pr or userType eq "Intern"', true],
    ['schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"', false],
    ['userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")', true],
    ['userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")', false],
    ['userType eq "Employee" and (emails.type eq "work")', true],
    ['userType eq "Employee" and emails[type eq "work" and value co "@example.com"]', true],
    ['emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]', true],
    ['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"', true],
    ["active eq true", true],
    ["active eq false", false],
    ['externalId eq "BJENSEN"', false],
    ['externalId eq "bjensen"', true],
    ["nickName pr", false],
    ['userName ew ".COM"', true],
  ];
  for (const [filter, expected] of examples)
    test(`${filter} -> ${expected}`, () => expect(matches(bjensen, parseFilter(filter))).toBe(expected));

  test("malformed filters are invalidFilter, never a crash", () => {
    for (const bad of [
      "",
      "userName",
      "userName eq",
      'userName zz "x"',
      '(userName eq "x"',
      'userName eq "x")',
      "userName eq x",
      'emails[type eq "work"',
      'userName eq "unterminated',
      "a.b.c pr",
      "not userName pr",
      "%%%",
    ])
      expect(scimTypeOf(() => parseFilter(bad))).toBe("invalidFilter");
    expect(scimTypeOf(() => parseFilter(`${"(".repeat(100)}title pr${")".repeat(100)}`))).toBe("invalidFilter");
    expect(scimTypeOf(() => parseFilter('userName eq "a\\u0000b"'))).toBe("invalidFilter");
    expect(scimTypeOf(() => parseFilter('userName eq "\\ud800"'))).toBe("invalidFilter");
    expect(scimTypeOf(() => parseFilter(`title pr ${"or title pr ".repeat(MAX_FILTER_LENGTH / 10)}`))).toBe(
      "invalidFilter",
    );
  });

  test("PATCH paths: attributes, sub-attributes, value filters with a sub-attribute, URNs", () => {
    expect(parsePatchPath("members")).toEqual({ path: { attr: "members", schema: undefined, sub: undefined } });
    expect(parsePatchPath("name.familyName").path).toMatchObject({ attr: "name", sub: "familyName" });
    const filtered = parsePatchPath('members[value eq "2819c223-7f76-453a-919d-413861904646"]');
    expect(filtered.filter).toMatchObject({ op: "eq", value: "2819c223-7f76-453a-919d-413861904646" });
    expect(parsePatchPath('emails[type eq "work"].value').sub).toBe("value");
    expect(parsePatchPath("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager").path).toMatchObject({
      schema: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
      attr: "manager",
    });
    for (const bad of ["members[", 'members[value eq "x"]x', "a.b.c", 'name.x[value eq "1"]'])
      expect(scimTypeOf(() => parsePatchPath(bad))).toBe("invalidPath");
  });
});

describe("SCIM PATCH", () => {
  const group = { displayName: "Tour Guides", members: [{ value: "a" }, { value: "b" }, { value: "c" }] };

  test("RFC 7644 §3.5.2.2: remove one member by a value filter, or all of them", () => {
    expect(applyPatch(group, [{ op: "remove", path: 'members[value eq "b"]' }]).members).toEqual([
      { value: "a" },
      { value: "c" },
    ]);
    expect(applyPatch(group, [{ op: "remove", path: "members" }]).members).toBeUndefined();
  });

  test("RFC 7644 §3.5.2.1: add members (no duplicates); replace them all", () => {
    expect(
      applyPatch(group, [{ op: "add", path: "members", value: [{ value: "c" }, { value: "d" }] }]).members,
    ).toEqual([{ value: "a" }, { value: "b" }, { value: "c" }, { value: "d" }]);
    expect(applyPatch(group, [{ op: "replace", path: "members", value: [{ value: "z" }] }]).members).toEqual([
      { value: "z" },
    ]);
  });

  test("Entra: capitalised ops, a path-less Replace, a Remove with the values to remove", () => {
    const out = applyPatch(group, [
      { op: "Replace", value: { displayName: "Guides" } },
      { op: "Remove", path: "members", value: [{ value: "a" }] },
    ]);
    expect(out).toEqual({ displayName: "Guides", members: [{ value: "b" }, { value: "c" }] });
    expect(scimBoolean("False", "active")).toBe(false);
    expect(scimBoolean("true", "active")).toBe(true);
    expect(scimTypeOf(() => scimBoolean("nope", "active"))).toBe("invalidValue");
  });

  test("a failing operation leaves the document untouched; an unknown op is invalidSyntax", () => {
    const doc = { emails: [{ type: "home", value: "x" }] };
    expect(
      scimTypeOf(() =>
        applyPatch(doc, [{ op: "replace", path: 'emails[type eq "work" or type eq "x"].value', value: "y" }]),
      ),
    ).toBe("noTarget");
    expect(doc).toEqual({ emails: [{ type: "home", value: "x" }] });
    expect(scimTypeOf(() => applyPatch(doc, [{ op: "move", path: "emails" }]))).toBe("invalidSyntax");
    expect(scimTypeOf(() => applyPatch(doc, [{ op: "remove" }]))).toBe("noTarget");
  });

  test("extension attributes by URN path and in a path-less value", () => {
    const urn = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    const out = applyPatch({}, [
      { op: "add", path: `${urn}:department`, value: "Ops" },
      { op: "replace", value: { [urn]: { employeeNumber: "7" } } },
    ]);
    expect(out).toEqual({ [urn]: { department: "Ops", employeeNumber: "7" } });
  });
});
