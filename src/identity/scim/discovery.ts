// SCIM discovery (RFC 7644 §4, RFC 7643 §5-7): what this service provider supports, its resource types and
// the schemas of their attributes, as the identity providers read them before provisioning.
import { member } from "./filter.ts";
import type { Json } from "./patch.ts";
import {
  ENTERPRISE_SCHEMA,
  GROUP_ROLE_SCHEMA,
  GROUP_SCHEMA,
  LIST_SCHEMA,
  MAX_COUNT,
  USER_SCHEMA,
} from "./resources.ts";

export function serviceProviderConfig(base: string): Json {
  return {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
    documentationUri: "https://causeloop.dev/docs/scim",
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_COUNT },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: false },
    authenticationSchemes: [
      {
        type: "oauthbearertoken",
        name: "SCIM token",
        description: "A workspace's SCIM token (clp_scim_...) from POST /v1/scim-tokens, as Authorization: Bearer",
        primary: true,
      },
    ],
    meta: { resourceType: "ServiceProviderConfig", location: `${base}/ServiceProviderConfig` },
  };
}

export function resourceTypes(base: string): Json {
  const types = [
    {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
      id: "User",
      name: "User",
      endpoint: "/Users",
      schema: USER_SCHEMA,
      schemaExtensions: [{ schema: ENTERPRISE_SCHEMA, required: false }],
      meta: { resourceType: "ResourceType", location: `${base}/ResourceTypes/User` },
    },
    {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
      id: "Group",
      name: "Group",
      endpoint: "/Groups",
      schema: GROUP_SCHEMA,
      schemaExtensions: [{ schema: GROUP_ROLE_SCHEMA, required: false }],
      meta: { resourceType: "ResourceType", location: `${base}/ResourceTypes/Group` },
    },
  ];
  return {
    schemas: [LIST_SCHEMA],
    totalResults: types.length,
    startIndex: 1,
    itemsPerPage: types.length,
    Resources: types,
  };
}

type Attr = [name: string, type: string, options?: Json];
function attribute([name, type, options = {}]: Attr): Json {
  const sub = member(options, "subAttributes") as Attr[] | undefined;
  return {
    name,
    type,
    multiValued: false,
    required: false,
    caseExact: false,
    mutability: "readWrite",
    returned: "default",
    uniqueness: "none",
    ...options,
    ...(sub ? { subAttributes: sub.map(attribute) } : {}),
  };
}

const MULTI: Json = { multiValued: true };
const VALUE_TYPE_PRIMARY: Attr[] = [
  ["value", "string"],
  ["display", "string"],
  ["type", "string"],
  ["primary", "boolean"],
];

const SCHEMAS: [id: string, name: string, attributes: Attr[]][] = [
  [
    USER_SCHEMA,
    "User",
    [
      ["userName", "string", { required: true, uniqueness: "server" }],
      [
        "name",
        "complex",
        {
          subAttributes: [
            ["formatted", "string"],
            ["familyName", "string"],
            ["givenName", "string"],
            ["middleName", "string"],
          ],
        },
      ],
      ["displayName", "string"],
      ["title", "string"],
      ["preferredLanguage", "string"],
      ["locale", "string"],
      ["timezone", "string"],
      ["active", "boolean"],
      ["emails", "complex", { ...MULTI, subAttributes: VALUE_TYPE_PRIMARY }],
      ["phoneNumbers", "complex", { ...MULTI, subAttributes: VALUE_TYPE_PRIMARY }],
      [
        "groups",
        "complex",
        {
          ...MULTI,
          mutability: "readOnly",
          subAttributes: [
            ["value", "string"],
            ["display", "string"],
            ["type", "string"],
          ],
        },
      ],
    ],
  ],
  [
    GROUP_SCHEMA,
    "Group",
    [
      ["displayName", "string", { required: true }],
      [
        "members",
        "complex",
        {
          ...MULTI,
          subAttributes: [
            ["value", "string"],
            ["display", "string"],
            ["type", "string"],
          ],
        },
      ],
    ],
  ],
  [
    ENTERPRISE_SCHEMA,
    "EnterpriseUser",
    [
      ["employeeNumber", "string"],
      ["costCenter", "string"],
      ["organization", "string"],
      ["division", "string"],
      ["department", "string"],
    ],
  ],
  [GROUP_ROLE_SCHEMA, "CauseloopGroupRole", [["role", "string", { canonicalValues: ["admin", "analyst", "viewer"] }]]],
];

export function schemas(base: string): Json {
  const resources = SCHEMAS.map(([id, name, attributes]) => ({
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
    id,
    name,
    attributes: attributes.map(attribute),
    meta: { resourceType: "Schema", location: `${base}/Schemas/${id}` },
  }));
  return {
    schemas: [LIST_SCHEMA],
    totalResults: resources.length,
    startIndex: 1,
    itemsPerPage: resources.length,
    Resources: resources,
  };
}
