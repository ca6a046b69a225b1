// The OpenAPI contract as a test oracle: every answer a test sees is checked against what /openapi.json says
// the route answers (its status is documented; its body matches the documented schema and content type).
import Ajv2020 from "ajv/dist/2020";
import type { ValidateFunction } from "ajv";
import type { HttpApp } from "../../src/http/app.ts";

interface ResponseDoc {
  $ref?: string;
  content?: Record<string, { schema?: unknown }>;
}
interface OperationDoc {
  responses?: Record<string, ResponseDoc>;
}
interface Document {
  paths: Record<string, Record<string, OperationDoc>>;
  components: { schemas: Record<string, unknown>; responses: Record<string, ResponseDoc> };
}

/** The contract's own pages: they describe the API rather than belong to it. */
const DOCUMENTATION = new Set(["GET /openapi.json", "GET /docs", "GET /docs/init.js", "GET /docs/scalar.js"]);

export interface Contract {
  readonly document: Document;
  /** What is wrong with this answer to `method routePath` (Elysia's `:id` form), or [] when it is as documented. */
  check(method: string, routePath: string, status: number, contentType: string | null, body: string): string[];
}

export async function loadContract(app: HttpApp): Promise<Contract> {
  const response = await app.fetch(new Request("http://localhost/openapi.json"));
  const document = (await response.json()) as Document;
  const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: false });
  // References are written #/components/schemas/X: register the document under an id and point them at it.
  ajv.addSchema({ $id: "contract", components: document.components }, "contract");
  const compiled = new Map<string, ValidateFunction>();
  const validatorFor = (key: string, schema: unknown) => {
    let validate = compiled.get(key);
    if (!validate) {
      const rewritten = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"contract#/components/'));
      validate = ajv.compile(rewritten);
      compiled.set(key, validate);
    }
    return validate;
  };
  const resolve = (doc: ResponseDoc): ResponseDoc =>
    doc.$ref ? (document.components.responses[doc.$ref.split("/").at(-1) as string] ?? {}) : doc;

  return {
    document,
    check(method, routePath, status, contentType, body) {
      const label = `${method} ${routePath} -> ${status}`;
      const path = routePath.replace(/:([^/]+)/g, "{$1}");
      const operation = document.paths[path]?.[method.toLowerCase()];
      if (!operation)
        return DOCUMENTATION.has(`${method} ${routePath}`) ? [] : [`${method} ${routePath}: not in the contract`];
      const documented = operation.responses?.[String(status)];
      if (!documented) return [`${label}: status not documented`];
      const answer = resolve(documented);
      if (!answer.content) return body === "" ? [] : [`${label}: documented without a body, answered one`];
      const type = (contentType ?? "").split(";")[0]?.trim() ?? "";
      const media = answer.content[type];
      if (!media) return [`${label}: content type ${type || "(none)"} not documented`];
      if (!["application/json", "application/problem+json", "application/scim+json"].includes(type)) return [];
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        return [`${label}: the body is not JSON`];
      }
      const validate = validatorFor(`${method} ${path} ${status} ${type}`, media.schema ?? {});
      if (validate(parsed)) return [];
      const first = validate.errors?.[0];
      return [`${label}: body does not match its schema at ${first?.instancePath || "/"}: ${first?.message}`];
    },
  };
}
