// PostgreSQL's refusals, told whole: the commands print its message, detail and hint in one line with the
// SQLSTATE, and the fix when we know it, instead of "unexpected error: permission denied to alter role".
// (Messages pass through the CLI's redaction before they are printed.)

const FIXES: Record<string, (message: string) => string> = {
  "42501": (message) =>
    /\brole\b/.test(message)
      ? "The owner connection (DATABASE_OWNER_URL) needs CREATEROLE, and on PostgreSQL 16 the ADMIN OPTION on causeloop_app (GRANT causeloop_app TO <owner> WITH ADMIN OPTION), or a superuser"
      : "The connection's role lacks a privilege this command needs: use the owner connection (DATABASE_OWNER_URL)",
  "28P01": () =>
    "The password in the URL is wrong; for causeloop_app, `causeloop roles setup --rotate` sets a new one and prints it",
  "3D000": () => "Create the database first (createdb), or fix the database name in the URL",
  "57P03": () => "PostgreSQL is starting up or shutting down: retry in a moment",
};

/** One line for an error PostgreSQL (or PGlite) raised, or undefined when it is not one. */
export function explainDatabaseError(error: unknown): string | undefined {
  if (!error || typeof error !== "object") return undefined;
  const e = error as { code?: unknown; message?: unknown; detail?: unknown; hint?: unknown };
  if (typeof e.code !== "string" || !/^[0-9A-Z]{5}$/.test(e.code) || typeof e.message !== "string") return undefined;
  const parts = [`PostgreSQL: ${e.message}`];
  if (typeof e.detail === "string" && e.detail) parts.push(e.detail);
  if (typeof e.hint === "string" && e.hint) parts.push(`hint: ${e.hint}`);
  const fix = FIXES[e.code]?.(e.message);
  return `${parts.join("; ")} (SQLSTATE ${e.code})${fix ? `. ${fix}` : ""}`.replace(/\s*\n\s*/g, " ");
}
