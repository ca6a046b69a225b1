// The SCIM routes' request and answer shapes as the OpenAPI contract names them. SCIM documents are open
// (extensions, attributes a provider adds): the schemas name what we rely on and allow the rest; `attributes`
// and `excludedAttributes` may leave out anything but id and schemas.
import { t } from "elysia";
import { component, Nullable, Page, Timestamp } from "../../http/contract.ts";

const open = { additionalProperties: true } as const;
const Strings = t.Array(t.String({ maxLength: 200 }), { maxItems: 10 });
const ScimBool = t.Union([t.Boolean(), t.String({ maxLength: 5 })], {
  description: 'A boolean; "True"/"False" accepted',
});

export const ScimMeta = t.Object(
  {
    resourceType: t.String(),
    created: t.Optional(Timestamp),
    lastModified: t.Optional(Timestamp),
    location: t.String(),
  },
  open,
);

export const ScimUser = component(
  "ScimUser",
  t.Object(
    {
      schemas: t.Array(t.String()),
      id: t.String({ examples: ["scu_01jd0000000000000000000000"] }),
      userName: t.Optional(t.String()),
      active: t.Optional(t.Boolean()),
      meta: t.Optional(ScimMeta),
    },
    { ...open, description: "urn:ietf:params:scim:schemas:core:2.0:User (RFC 7643 §4.1)" },
  ),
);

export const ScimGroup = component(
  "ScimGroup",
  t.Object(
    {
      schemas: t.Array(t.String()),
      id: t.String({ examples: ["scg_01jd0000000000000000000000"] }),
      displayName: t.Optional(t.String()),
      members: t.Optional(t.Array(t.Object({ value: t.String() }, open))),
      meta: t.Optional(ScimMeta),
    },
    { ...open, description: "urn:ietf:params:scim:schemas:core:2.0:Group (RFC 7643 §4.2)" },
  ),
);

export const ScimList = component(
  "ScimListResponse",
  t.Object(
    {
      schemas: t.Array(t.String()),
      totalResults: t.Integer(),
      startIndex: t.Integer(),
      itemsPerPage: t.Integer(),
      Resources: t.Array(t.Object({}, open)),
    },
    { ...open, description: "urn:ietf:params:scim:api:messages:2.0:ListResponse (RFC 7644 §3.4.2)" },
  ),
);

export const ScimDocument = component(
  "ScimDocument",
  t.Object({ schemas: t.Array(t.String()) }, { ...open, description: "A SCIM discovery document (RFC 7644 §4)" }),
);

export const ScimError = component(
  "ScimError",
  t.Object(
    {
      schemas: t.Array(t.Literal("urn:ietf:params:scim:api:messages:2.0:Error")),
      status: t.String({ examples: ["404"] }),
      scimType: t.Optional(t.String({ examples: ["invalidFilter", "uniqueness", "invalidValue"] })),
      detail: t.String(),
    },
    { description: "urn:ietf:params:scim:api:messages:2.0:Error (RFC 7644 §3.12)" },
  ),
);

export const ScimUserInput = t.Object(
  {
    schemas: t.Optional(Strings),
    userName: t.String({ minLength: 1, maxLength: 254 }),
    externalId: t.Optional(t.String({ maxLength: 255 })),
    displayName: t.Optional(t.String({ maxLength: 256 })),
    active: t.Optional(ScimBool),
    emails: t.Optional(
      t.Array(
        t.Object(
          {
            value: t.String({ format: "email", maxLength: 254 }),
            type: t.Optional(t.String({ maxLength: 50 })),
            primary: t.Optional(ScimBool),
          },
          open,
        ),
        { maxItems: 20 },
      ),
    ),
  },
  open,
);

export const ScimGroupInput = t.Object(
  {
    schemas: t.Optional(Strings),
    displayName: t.String({ minLength: 1, maxLength: 255 }),
    externalId: t.Optional(t.String({ maxLength: 255 })),
    members: t.Optional(t.Array(t.Object({ value: t.String({ maxLength: 100 }) }, open), { maxItems: 10_000 })),
  },
  open,
);

export const ScimPatchInput = t.Object(
  {
    schemas: t.Optional(Strings),
    Operations: t.Array(
      t.Object(
        {
          op: t.String({ maxLength: 20 }),
          path: t.Optional(t.String({ maxLength: 4096 })),
          value: t.Optional(t.Unknown()),
        },
        open,
      ),
      { minItems: 1, maxItems: 1000 },
    ),
  },
  open,
);

export const ScimListQuery = t.Object({
  filter: t.Optional(t.String({ maxLength: 4096 })),
  startIndex: t.Optional(t.Integer({ minimum: -2147483648, maximum: 2147483647 })),
  count: t.Optional(t.Integer({ minimum: -2147483648, maximum: 2147483647 })),
  attributes: t.Optional(t.String({ maxLength: 1000 })),
  excludedAttributes: t.Optional(t.String({ maxLength: 1000 })),
});

export const ScimToken = component(
  "ScimToken",
  t.Object({
    id: t.String({ examples: ["sct_01jd0000000000000000000000"] }),
    name: t.String(),
    prefix: t.String({ description: "The first characters of the token, to recognise it" }),
    role: t.Union([t.Literal("owner"), t.Literal("admin")], { description: "The authority of its creator" }),
    created_at: Timestamp,
    rotated_at: Nullable(Timestamp),
    last_used_at: Nullable(Timestamp),
    revoked_at: Nullable(Timestamp),
  }),
);
export const CreatedScimToken = component(
  "CreatedScimToken",
  t.Composite([ScimToken, t.Object({ token: t.String({ description: "Shown once: the SCIM bearer token" }) })]),
);
export const ScimTokenPage = component("ScimTokenPage", Page(ScimToken));
