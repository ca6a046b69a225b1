// Reads `connectionStatus` (with showPrivileges) and says, in words, when the relay's MongoDB user could
// write or administer: the relay only ever reads, but a read-only user is what makes that a guarantee.

const WRITE_ROLES = new Set([
  "readWrite",
  "readWriteAnyDatabase",
  "dbAdmin",
  "dbAdminAnyDatabase",
  "dbOwner",
  "userAdmin",
  "userAdminAnyDatabase",
  "clusterAdmin",
  "clusterManager",
  "hostManager",
  "restore",
  "root",
  "__system",
]);

const WRITE_ACTIONS = new Set([
  "insert",
  "update",
  "remove",
  "createCollection",
  "dropCollection",
  "dropDatabase",
  "createIndex",
  "dropIndex",
  "renameCollectionSameDB",
  "collMod",
  "convertToCapped",
  "compact",
  "bypassDocumentValidation",
  "createUser",
  "dropUser",
  "grantRole",
  "revokeRole",
  "createRole",
  "dropRole",
  "changeOwnPassword",
  "applyOps",
  "shutdown",
  "anyAction",
  "internal",
]);

interface Status {
  authInfo?: {
    authenticatedUsers?: { user?: string; db?: string }[];
    authenticatedUserRoles?: { role?: string; db?: string }[];
    authenticatedUserPrivileges?: { actions?: string[] }[];
  };
}

/** Warnings for start-up: no authentication at all, or roles and actions beyond reading. */
export function privilegeWarnings(raw: unknown, dbName: string): string[] {
  const info = (raw as Status | null)?.authInfo;
  if (!info?.authenticatedUsers?.length)
    return [
      `MongoDB "${dbName}": the relay connected without a user (access control may be off), so nothing stops a write except the relay's own checks`,
    ];
  const roles = (info.authenticatedUserRoles ?? [])
    .filter((r) => r.role !== undefined && WRITE_ROLES.has(r.role))
    .map((r) => `${r.role}@${r.db ?? "?"}`);
  const actions = new Set(
    (info.authenticatedUserPrivileges ?? []).flatMap((p) => (p.actions ?? []).filter((a) => WRITE_ACTIONS.has(a))),
  );
  if (roles.length === 0 && actions.size === 0) return [];
  const what = [
    roles.length ? `roles ${roles.join(", ")}` : "",
    actions.size ? `actions ${[...actions].sort().join(", ")}` : "",
  ]
    .filter(Boolean)
    .join("; ");
  return [`MongoDB "${dbName}": the relay's user can do more than read (${what}); give it the "read" role only`];
}
