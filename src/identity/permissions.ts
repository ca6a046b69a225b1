// The permission catalogue: every scope, and the four roles owner ⊇ admin ⊇ analyst ⊇ viewer.
export const SCOPES = [
  "issues:read",
  "issues:write",
  "members:read",
  "members:write",
  "tokens:write",
  "audit:read",
  "governance:read",
  "governance:write",
  "settings:read",
  "settings:write",
  "connectors:read",
  "connectors:write",
  "webhooks:read",
  "webhooks:write",
  "keys:manage",
  "clusters:read",
  "clusters:write",
  "patterns:read",
  "patterns:write",
  "predictions:read",
  "predictions:write",
  "recommendations:read",
  "recommendations:write",
  "db:query",
] as const;
export type Scope = (typeof SCOPES)[number];

export const ROLES = ["owner", "admin", "analyst", "viewer"] as const;
export type Role = (typeof ROLES)[number];

const VIEWER: Scope[] = [
  "issues:read",
  "members:read",
  "settings:read",
  "connectors:read",
  "webhooks:read",
  "clusters:read",
  "patterns:read",
  "predictions:read",
  "recommendations:read",
];
const ANALYST: Scope[] = [
  ...VIEWER,
  "issues:write",
  "tokens:write",
  "clusters:write",
  "patterns:write",
  "predictions:write",
  "recommendations:write",
  "db:query",
];
// Governance scopes belong to admin and owner only.
const ADMIN: Scope[] = [
  ...ANALYST,
  "members:write",
  "audit:read",
  "governance:read",
  "governance:write",
  "settings:write",
  "connectors:write",
  "webhooks:write",
];
const OWNER: Scope[] = [...ADMIN, "keys:manage"];

export const ROLE_SCOPES: Record<Role, ReadonlySet<Scope>> = {
  owner: new Set(OWNER),
  admin: new Set(ADMIN),
  analyst: new Set(ANALYST),
  viewer: new Set(VIEWER),
};

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

const NARROWED = new Map<string, ReadonlySet<Scope>>();

/**
 * A token's effective scopes: its own list ('*' = all of its role's) intersected with its role's. Computed on
 * every authenticated request, so the sets are shared, never copied: '*' is the role's own set, and a narrowed
 * list is kept by its text (a bounded cache: the distinct lists are the tokens' few shapes).
 */
export function effectiveScopes(role: Role, tokenScopes: readonly string[]): ReadonlySet<Scope> {
  const allowed = ROLE_SCOPES[role];
  if (tokenScopes.includes("*")) return allowed;
  const key = `${role} ${tokenScopes.join(" ")}`;
  let narrowed = NARROWED.get(key);
  if (!narrowed) {
    narrowed = new Set(tokenScopes.filter((s): s is Scope => allowed.has(s as Scope)));
    if (NARROWED.size >= 1024) NARROWED.clear();
    NARROWED.set(key, narrowed);
  }
  return narrowed;
}
