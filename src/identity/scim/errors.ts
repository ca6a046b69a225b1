// SCIM answers its errors in its own schema (RFC 7644 §3.12): the front door's problem documents for a /scim
// path are rewritten here, so every refusal (authentication, limits, validation, the services') reads the same
// to an identity provider: `status` as a string, a `scimType` where one applies, application/scim+json.
import { ERROR_SCHEMA } from "./resources.ts";

export const SCIM_CONTENT_TYPE = "application/scim+json; charset=utf-8";

const SCIM_TYPES: Record<string, string> = {
  invalid_json: "invalidSyntax",
  validation_failed: "invalidValue",
  conflict: "uniqueness",
  already_exists: "uniqueness",
};

export function isScimPath(path: string): boolean {
  return path === "/scim/v2" || path.startsWith("/scim/v2/");
}

/** The SCIM error document for a problem answer; anything else passes unchanged. */
export async function asScimError(response: Response): Promise<Response> {
  if (!(response.headers.get("content-type") ?? "").startsWith("application/problem+json")) return response;
  const problem = (await response.json()) as { status?: number; detail?: string; code?: string; scimType?: unknown };
  // SCIM has no 422: a value the schema refuses is a 400 invalidValue.
  const status = response.status === 422 ? 400 : response.status;
  const scimType = typeof problem.scimType === "string" ? problem.scimType : SCIM_TYPES[problem.code ?? ""];
  const headers = new Headers(response.headers);
  headers.set("content-type", SCIM_CONTENT_TYPE);
  headers.delete("content-length");
  const body = {
    schemas: [ERROR_SCHEMA],
    status: String(status),
    ...(scimType ? { scimType } : {}),
    detail: problem.detail ?? "",
  };
  return new Response(JSON.stringify(body), { status, headers });
}
