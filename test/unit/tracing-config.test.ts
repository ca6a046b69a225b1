// The standard OTEL_* variables as serve reads them: tracing is off without an endpoint, on with one, and a
// bad value stops the start with one line naming the variable (never a header's value: it is a secret).
import { expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../../src/config.ts";

const tracing = (env: Record<string, string>) => loadConfig({ CAUSELOOP_DATA_DIR: "/tmp/x", ...env }).tracing;

test("off without an endpoint, and when OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none says so", () => {
  expect(tracing({})).toBeUndefined();
  expect(tracing({ OTEL_SERVICE_NAME: "api", OTEL_TRACES_SAMPLER: "always_on" })).toBeUndefined();
  expect(tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" })).toBeUndefined();
  expect(tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_TRACES_EXPORTER: "none" })).toBeUndefined();
});

test("the base endpoint gets /v1/traces; the traces endpoint is used as given; the defaults are the standard's", () => {
  expect(tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" })).toEqual({
    url: "http://collector:4318/v1/traces",
    protocol: "http/protobuf",
    headers: {},
    serviceName: "causeloop",
    sampler: "parentbased_always_on",
    samplerRatio: 1,
  });
  expect(tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: "https://otlp.example.com/prefix/" })?.url).toBe(
    "https://otlp.example.com/prefix/v1/traces",
  );
  expect(
    tracing({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://ignored:4318",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://tempo:4318/custom/traces",
    })?.url,
  ).toBe("http://tempo:4318/custom/traces");
});

test("headers, protocol, service name and sampler come from their variables", () => {
  const settings = tracing({
    OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318",
    OTEL_EXPORTER_OTLP_HEADERS: "x-api-key=abc%3D%3D, X-Team = core",
    OTEL_EXPORTER_OTLP_TRACES_HEADERS: "x-team=traces",
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json",
    OTEL_SERVICE_NAME: "causeloop-eu",
    OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
    OTEL_TRACES_SAMPLER_ARG: "0.25",
  });
  expect(settings).toMatchObject({
    headers: { "x-api-key": "abc==", "x-team": "traces" },
    protocol: "http/json",
    serviceName: "causeloop-eu",
    sampler: "parentbased_traceidratio",
    samplerRatio: 0.25,
  });
});

test("bad values are refused with the variable's name, and a header's value is never echoed", () => {
  const refused = (env: Record<string, string>) => {
    try {
      tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", ...env });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error(`accepted ${JSON.stringify(env)}`);
  };
  expect(refused({ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4317" })).toContain("OTEL_EXPORTER_OTLP_ENDPOINT");
  expect(refused({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toContain("OTEL_EXPORTER_OTLP_PROTOCOL");
  expect(refused({ OTEL_TRACES_SAMPLER: "sometimes" })).toContain("OTEL_TRACES_SAMPLER");
  expect(refused({ OTEL_TRACES_SAMPLER_ARG: "2" })).toContain("OTEL_TRACES_SAMPLER_ARG");
  const header = refused({ OTEL_EXPORTER_OTLP_HEADERS: "x-api-key=top-secret-value%zz" });
  expect(header).toContain("OTEL_EXPORTER_OTLP_HEADERS");
  expect(header).not.toContain("top-secret-value");
  expect(refused({ OTEL_EXPORTER_OTLP_HEADERS: "top-secret-value" })).not.toContain("top-secret-value");
});

test("CAUSELOOP_LOG_FORMAT is auto, json or text", () => {
  expect(loadConfig({}).logFormat).toBe("auto");
  expect(loadConfig({ CAUSELOOP_LOG_FORMAT: "TEXT" }).logFormat).toBe("text");
  expect(() => loadConfig({ CAUSELOOP_LOG_FORMAT: "yaml" })).toThrow("CAUSELOOP_LOG_FORMAT");
});
