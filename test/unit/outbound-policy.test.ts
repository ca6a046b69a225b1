// The outbound policy refuses every address outside the public internet, in every spelling an attacker
// might use, refuses credentials and plain http, and lets through exactly what the operator allowlists.
import { expect, test } from "bun:test";
import { blockedRange } from "../../src/net/ranges.ts";
import { checkUrl, checkUserUrl, outboundPolicy, OutboundRefused, parseAllowlist } from "../../src/net/policy.ts";
import { assertUserUrl, redactUrlCredentials } from "../../src/net/user-url.ts";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { AppError } from "../../src/errors.ts";

const strict = outboundPolicy();
const refusal = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(OutboundRefused);
    return (error as Error).message;
  }
  throw new Error("expected a refusal");
};

test("every non-public range is blocked, IPv4, IPv6 and IPv4 inside IPv6 alike", () => {
  const blocked: [string, RegExp][] = [
    ["127.0.0.1", /loopback/],
    ["127.255.255.254", /loopback/],
    ["::1", /loopback/],
    ["10.0.0.1", /private/],
    ["10.255.255.255", /private/],
    ["172.16.0.1", /private/],
    ["172.31.255.255", /private/],
    ["192.168.1.1", /private/],
    ["fc00::1", /private/],
    ["fd12:3456:789a::1", /private/],
    ["169.254.169.254", /link-local/],
    ["169.254.0.1", /link-local/],
    ["fe80::1", /link-local/],
    ["febf:ffff::1", /link-local/],
    ["0.0.0.0", /unspecified/],
    ["0.1.2.3", /unspecified/],
    ["::", /unspecified/],
    ["100.64.0.1", /CGNAT/],
    ["100.127.255.255", /CGNAT/],
    ["224.0.0.1", /multicast/],
    ["239.255.255.250", /multicast/],
    ["ff02::1", /multicast/],
    ["240.0.0.1", /reserved/],
    ["255.255.255.255", /reserved/],
    ["192.0.2.1", /reserved/],
    ["198.18.0.1", /reserved/],
    ["2001:db8::1", /reserved/],
    ["2002:7f00:1::1", /reserved/],
    ["::7f00:1", /reserved/],
    ["::ffff:127.0.0.1", /loopback \(IPv4 inside IPv6\)/],
    ["::ffff:7f00:1", /loopback/],
    ["0:0:0:0:0:ffff:a9fe:a9fe", /link-local/],
    ["::ffff:10.0.0.1", /private/],
    ["64:ff9b::7f00:1", /loopback/],
    ["64:ff9b::169.254.169.254", /link-local/],
  ];
  for (const [address, label] of blocked)
    expect([address, blockedRange(address)]).toEqual([address, expect.stringMatching(label)]);
  const open = [
    "8.8.8.8",
    "1.1.1.1",
    "172.32.0.1",
    "100.128.0.1",
    "169.255.0.1",
    "11.0.0.1",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
  ];
  for (const address of open) expect([address, blockedRange(address)]).toEqual([address, undefined]);
});

test("literal-IP tricks in URLs are normalised and refused before any connection", () => {
  const tricks = [
    "https://2130706433/",
    "https://0x7f.1/",
    "https://0177.0.0.1/",
    "https://127.1/",
    "https://%31%32%37.0.0.1/",
    "https://0/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:7f00:1]/",
    "https://[0:0:0:0:0:ffff:127.0.0.1]/",
    "https://[::]/",
    "https://[::1]:8443/",
    "https://169.254.169.254/latest/meta-data/iam/",
    "https://0xa9.0xfe.0xa9.0xfe/",
    "https://2852039166/",
    "https://[fd00::1]/",
    "https://10.0.0.1./",
  ];
  for (const url of tricks) expect(refusal(() => checkUrl(url, strict))).toMatch(/points to .* address/);
  expect(checkUrl("https://idp.example.com/.well-known/jwks.json", strict).hostname).toBe("idp.example.com");
  expect(checkUrl("https://8.8.8.8/", strict).hostname).toBe("8.8.8.8");
});

test("credentials, plain http and other schemes are refused; the message never repeats the credentials", () => {
  for (const url of [
    "https://user:hunter2pass@example.com/hook",
    "https://user@example.com/",
    "https://:hunter2pass@example.com/",
  ]) {
    const message = refusal(() => checkUrl(url, strict));
    expect(message).toMatch(/credentials/);
    expect(message).not.toContain("hunter2pass");
  }
  expect(refusal(() => checkUrl("http://hooks.example.com/x", strict))).toMatch(/https/);
  for (const url of ["ftp://example.com/", "file:///etc/passwd", "gopher://example.com/", "not a url"])
    expect(() => checkUrl(url, strict)).toThrow(OutboundRefused);
});

test("localhost names are refused when stored (and by DNS when fetched, see the fetch tests)", () => {
  for (const url of ["https://localhost/jwks", "https://LOCALHOST./jwks", "https://api.localhost/x"])
    expect(refusal(() => checkUserUrl(url, strict))).toMatch(/loopback name/);
  expect(checkUrl("https://localhost/jwks", strict).hostname).toBe("localhost");
});

test("the allowlist admits listed hosts (http too) and addresses in listed CIDRs, nothing else", () => {
  const policy = outboundPolicy({ allowlist: "IdP.Internal., 10.0.0.0/8, 127.0.0.1, fd00::/8" });
  expect(policy.allowlist).toEqual({ hosts: ["idp.internal"], cidrs: ["10.0.0.0/8", "127.0.0.1", "fd00::/8"] });
  for (const url of [
    "http://idp.internal:8080/keys",
    "https://idp.internal/keys",
    "https://10.1.2.3/",
    "http://10.1.2.3:8080/",
    "http://127.0.0.1:9999/",
    "https://[::ffff:127.0.0.1]/",
    "https://[fd00::1]/",
    "https://localhost.example.com/",
  ]) {
    expect(checkUserUrl(url, policy).href).toBe(new URL(url).href);
  }
  for (const url of [
    "http://other.internal/",
    "https://192.168.1.1/",
    "https://127.0.0.2/",
    "https://[fc00::1]/",
    "http://u:p@idp.internal/",
    "https://169.254.169.254/",
    "https://localhost/",
  ]) {
    expect(() => checkUserUrl(url, policy)).toThrow(OutboundRefused);
  }
  expect(policy.allowsAddress("10.9.9.9")).toBe(true);
  expect(policy.allowsAddress("::ffff:10.9.9.9")).toBe(true);
  expect(policy.allowsAddress("11.0.0.1")).toBe(false);
});

test("a bad allowlist entry is one ConfigError naming the variable; the IdP key-set URL follows the same policy", () => {
  for (const entry of [
    "10.0.0.0/33",
    "fd00::/129",
    "300.1.1.1",
    "10.0.0.0/8/1",
    "1.2.3",
    "bad host!",
    "10.0.0.0/x",
    "::g",
  ]) {
    expect(() => parseAllowlist(entry)).toThrow();
    let error: unknown;
    try {
      loadConfig({ CAUSELOOP_OUTBOUND_ALLOWLIST: `example.com,${entry}` });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toStartWith("CAUSELOOP_OUTBOUND_ALLOWLIST: ");
    expect((error as Error).message).not.toContain("\n");
  }
  expect(loadConfig({}).outboundAllowlist).toEqual({ hosts: [], cidrs: [] });
  expect(loadConfig({ CAUSELOOP_OUTBOUND_ALLOWLIST: " keycloak.corp , 10.20.0.0/16 ," }).outboundAllowlist).toEqual({
    hosts: ["keycloak.corp"],
    cidrs: ["10.20.0.0/16"],
  });
  const idp = {
    CAUSELOOP_IDP_JWKS_URL: "http://keycloak.corp/realms/x/certs",
    CAUSELOOP_IDP_ISSUER: "https://keycloak.corp/realms/x",
  };
  expect(() => loadConfig(idp)).toThrow(/CAUSELOOP_IDP_JWKS_URL must use https/);
  expect(() => loadConfig({ ...idp, CAUSELOOP_IDP_JWKS_URL: "https://svc:topsecret@keycloak.corp/certs" })).toThrow(
    /credentials/,
  );
  expect(loadConfig({ ...idp, CAUSELOOP_OUTBOUND_ALLOWLIST: "keycloak.corp" }).idp?.jwksUrl).toBe(
    idp.CAUSELOOP_IDP_JWKS_URL,
  );
});

test("write-time checks are validation_failed naming the field; stored credentials are redacted on read", () => {
  let error: unknown;
  try {
    assertUserUrl("https://admin:hunter2pass@hooks.example.com/x", strict, "url");
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe("validation_failed");
  expect((error as AppError).message).toBe("url must not contain credentials (user:password@)");
  expect(redactUrlCredentials("https://admin:hunter2pass@hooks.example.com/x?a=b@c")).toBe(
    "https://redacted@hooks.example.com/x?a=b@c",
  );
  expect(redactUrlCredentials("https://hooks.example.com/x@y")).toBe("https://hooks.example.com/x@y");
});
