// The OpenAPI contract's shared parts. Capabilities name their response shapes once (`component`), and each
// route lists what it answers on success (`responses`); `contractDocument` then gives every operation the
// problem+json answers the front door can return for it (401/403 when it needs a credential, 404 when its path
// names a resource, 400/413/415/422 when it takes input, 429, 500, 503), so no route can forget them.
// The document is checked against real answers by the route harness (test/helpers/contract.ts).
import { t, type TSchema } from "elysia";

const NAME = Symbol.for("causeloop.contract.component");
const registry = new Map<string, TSchema>();

/** Registers a named response shape: the document refers to it as #/components/schemas/<name>. */
export function component<T extends TSchema>(name: string, schema: T): T {
  if (registry.has(name) && registry.get(name) !== schema) throw new Error(`component ${name} is defined twice`);
  registry.set(name, schema);
  Object.defineProperty(schema, NAME, { value: name, enumerable: false });
  return schema;
}

/** RFC 9457 problem details, as every error answers (with `code` from the catalogue in src/errors.ts). */
export const Problem = component(
  "Problem",
  t.Object(
    {
      type: t.String({
        description: "A URI naming the kind of problem",
        examples: ["https://causeloop.dev/problems/not_found"],
      }),
      title: t.String({ examples: ["Not found"] }),
      status: t.Integer({ minimum: 400, maximum: 599, examples: [404] }),
      detail: t.String({ examples: ["no such issue"] }),
      code: t.String({
        description: "A stable machine-readable code (see the README's error catalogue)",
        examples: ["not_found"],
      }),
      request_id: t.String({
        description: "Quote it to the operator: it is in the server's log line",
        examples: ["req_01jd0000000000000000000000"],
      }),
    },
    { additionalProperties: true, description: "application/problem+json (RFC 9457); some codes add fields" },
  ),
);

/** `limit` and `cursor`, accepted by every list route. */
export const PageQuery = {
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 200, description: "Page size (default 50)" })),
  cursor: t.Optional(t.String({ maxLength: 200, description: "next_cursor from the previous page" })),
};

/** The one list shape: `{ data, next_cursor }`. */
export function Page<T extends TSchema>(item: T) {
  return t.Object(
    {
      data: t.Array(item),
      next_cursor: t.Union([t.String(), t.Null()], {
        description: "Pass as `cursor` for the next page; null on the last",
      }),
    },
    { additionalProperties: false },
  );
}

/** A timestamp as the API writes it (ISO 8601, UTC). */
export const Timestamp = t.String({ format: "date-time" });
export const Nullable = <T extends TSchema>(schema: T) => t.Union([schema, t.Null()]);

/** An OpenAPI response object, or a reference to a shared one. */
type ResponseDoc =
  | { description: string; headers?: Record<string, object>; content?: Record<string, object> }
  | { $ref: string };

/** A success answer that is not plain JSON of one schema (a file, or JSON with headers worth describing). */
interface CustomSuccess {
  description: string;
  schema?: TSchema;
  contentType?: string;
  headers?: Record<string, object>;
}
type Success = TSchema | null | CustomSuccess;
const isCustom = (body: TSchema | CustomSuccess): body is CustomSuccess =>
  !(Symbol.for("TypeBox.Kind") in body) && typeof body.description === "string";

const SUCCESS_TEXT: Record<number, string> = {
  200: "OK",
  201: "Created",
  202: "Accepted: the work continues in the background",
  204: "No content",
};

/**
 * The `detail.responses` of a route: its success answers (a schema, null for an empty 204, or a custom content
 * type) and the errors particular to it (`conflict: 409` etc.). The door's errors are added for every route.
 */
export function responses(success: Record<number, Success>, errors: number[] = []): Record<string, ResponseDoc> {
  const out: Record<string, ResponseDoc> = {};
  for (const [status, body] of Object.entries(success)) {
    const description = SUCCESS_TEXT[Number(status)] ?? "OK";
    if (body === null) out[status] = { description };
    else if (isCustom(body))
      out[status] = {
        description: body.description,
        ...(body.headers ? { headers: body.headers } : {}),
        ...(body.schema || body.contentType
          ? {
              content: {
                [body.contentType ?? "application/json"]: {
                  schema: body.schema ? (toJson(body.schema) as object) : {},
                },
              },
            }
          : {}),
      };
    else out[status] = { description, content: { "application/json": { schema: toJson(body) as object } } };
  }
  for (const status of errors) out[String(status)] = { $ref: `#/components/responses/${ERRORS[status]?.[0]}` };
  return out;
}

/** A schema as plain JSON Schema, with registered components replaced by references to them. */
function toJson(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toJson);
  if (!schema || typeof schema !== "object") return schema;
  const name = (schema as Record<symbol, unknown>)[NAME];
  if (typeof name === "string") return { $ref: `#/components/schemas/${name}` };
  return Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, toJson(value)]));
}

/** Every problem status the API uses: component name and meaning. */
const ERRORS: Record<number, [string, string]> = {
  400: ["BadRequest", "The body is not valid JSON"],
  401: ["Unauthorized", "Missing, malformed, expired or revoked credentials"],
  403: [
    "Forbidden",
    "The credential lacks the scope, the workspace is disabled, or the action needs an interactive session",
  ],
  404: ["NotFound", "No such resource in this workspace (another workspace's id is 404 too)"],
  409: ["Conflict", "The resource is not in a state that allows this"],
  410: ["Gone", "It existed and was removed (an erased person's export, an expired link)"],
  413: ["PayloadTooLarge", "The body is over the server's limit"],
  415: ["UnsupportedMediaType", "The body is not application/json"],
  422: ["ValidationFailed", "A field, parameter or the body's shape is invalid; `detail` names it"],
  429: ["TooManyRequests", "Rate limited or throttled; retry after `Retry-After` seconds"],
  500: ["Internal", "An unexpected error; quote the request id to the operator"],
  503: ["Unavailable", "The database is unreachable or the server is overloaded; retry later"],
  504: ["GatewayTimeout", "A relay did not answer within the query's timeout"],
};

function problemResponse(status: number): Record<string, unknown> {
  const [, description] = ERRORS[status] as [string, string];
  return {
    description,
    ...(status === 429 || status === 503
      ? { headers: { "Retry-After": { description: "Seconds to wait", schema: { type: "integer" } } } }
      : {}),
    content: {
      "application/problem+json": {
        schema: { $ref: "#/components/schemas/Problem" },
        example: {
          type: `https://causeloop.dev/problems/${status}`,
          title: description.split(";")[0],
          status,
          detail: description,
          code: {
            400: "invalid_json",
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            409: "conflict",
            410: "gone",
            413: "payload_too_large",
            415: "unsupported_media_type",
            422: "validation_failed",
            429: "rate_limited",
            500: "internal",
            503: "database_unreachable",
          }[status],
          request_id: "req_01jd0000000000000000000000",
        },
      },
    },
  };
}

/** The same refusal on a /scim path: the SCIM error schema (RFC 7644 §3.12), application/scim+json. */
function scimErrorResponse(status: number): Record<string, unknown> {
  const { description, headers } = problemResponse(status) as { description: string; headers?: object };
  return {
    description,
    ...(headers ? { headers } : {}),
    content: {
      "application/scim+json": {
        schema: { $ref: "#/components/schemas/ScimError" },
        example: {
          schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"],
          status: String(status),
          detail: description,
        },
      },
    },
  };
}

const IDEMPOTENCY_KEY = {
  in: "header",
  name: "Idempotency-Key",
  required: false,
  description:
    "Send the same key again (with the same request) to get the first answer back instead of acting twice; kept 24 h per credential",
  schema: { type: "string", minLength: 1, maxLength: 255, pattern: "^[\\x21-\\x7e]+$" },
};

interface Operation {
  security?: unknown[];
  parameters?: { in: string }[];
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, unknown>;
}

/**
 * The served document: what @elysiajs/openapi generated from the routes, with the shared components, the
 * door's error answers on every operation, and request bodies as JSON only (the server refuses the rest, 415).
 */
export function contractDocument(generated: Record<string, unknown>): Record<string, unknown> {
  const paths = (generated.paths ?? {}) as Record<string, Record<string, Operation>>;
  for (const [path, item] of Object.entries(paths)) {
    for (const [method, operation] of Object.entries(item)) {
      // The front door refuses a query string or body PostgreSQL could not store (NUL, lone surrogates): 422 anywhere.
      const statuses = new Set<number>([422, 500]);
      const isPublic = Array.isArray(operation.security) && operation.security.length === 0;
      if (!isPublic) for (const s of [401, 403]) statuses.add(s);
      // Rate limits apply to every route but the probes (which must answer under any load).
      if (path !== "/healthz" && path !== "/readyz") statuses.add(429);
      if (path.includes("{")) statuses.add(404);
      // Every POST/PUT/PATCH body is read as JSON, whether the route takes fields or not.
      if (["post", "put", "patch"].includes(method)) for (const s of [400, 413, 415]) statuses.add(s);
      // POST and PATCH with a credential take an Idempotency-Key (409 while the first request still runs).
      if (!isPublic && (method === "post" || method === "patch")) {
        statuses.add(409);
        operation.parameters = [...(operation.parameters ?? []), IDEMPOTENCY_KEY];
      }
      // SCIM (RFC 7644) has no 422: a refused value is a 400 invalidValue, in its own error schema.
      const scim = path.startsWith("/scim/");
      if (scim) {
        statuses.delete(422);
        statuses.add(400);
      }
      if (operation.requestBody) {
        const json = operation.requestBody.content?.["application/json"] ?? { schema: {} };
        const form = operation.requestBody.content?.["application/x-www-form-urlencoded"];
        operation.requestBody.content = scim
          ? { "application/scim+json": json, "application/json": json }
          : {
              "application/json": json,
              // The SAML ACS takes the IdP's form post (request-checks.ts FORM_POST_ROUTE).
              ...(/^\/v1\/auth\/sso\/\{[^}]+\}\/acs$/.test(path) && form
                ? { "application/x-www-form-urlencoded": form }
                : {}),
            };
      }
      if (path !== "/healthz") statuses.add(503);
      operation.responses ??= {};
      const answers = operation.responses;
      const prefix = scim ? "Scim" : "";
      for (const status of statuses)
        answers[String(status)] ??= { $ref: `#/components/responses/${prefix}${ERRORS[status]?.[0]}` };
      if (scim)
        for (const [status, answer] of Object.entries(answers)) {
          const ref = (answer as { $ref?: string }).$ref;
          if (ref && !ref.includes("/Scim")) answers[status] = { $ref: ref.replace("/responses/", "/responses/Scim") };
        }
    }
  }
  const components = (generated.components ?? {}) as Record<string, Record<string, unknown>>;
  return {
    ...generated,
    components: {
      ...components,
      schemas: {
        ...components.schemas,
        ...Object.fromEntries([...registry].map(([name, schema]) => [name, toJson({ ...schema })])),
      },
      responses: Object.fromEntries([
        ...Object.entries(ERRORS).map(([status, [name]]) => [name, problemResponse(Number(status))]),
        // 410 is no SCIM answer, and a 422 is answered as a 400 there.
        ...Object.entries(ERRORS)
          .filter(([status]) => status !== "410" && status !== "422")
          .map(([status, [name]]) => [`Scim${name}`, scimErrorResponse(Number(status))]),
      ]),
    },
  };
}
