// Route labels for the request log and the metrics: a path with its ids replaced, and for metrics one of the
// app's own route templates (or `unmatched`), so a scan of random paths cannot grow the label set.

const ID_SEGMENT = /\/(?:[a-z]+_[0-9a-z]{26})(?=\/|$)/g;

/** `/v1/issues/iss_01j...` -> `/v1/issues/:id` (the request log's route). */
export function withoutIds(path: string): string {
  return path.replace(ID_SEGMENT, "/:id");
}

/** An Elysia path (`/v1/issues/:id`, `/docs/*`) as a pattern matching the request paths it serves. */
export function routePattern(path: string): RegExp {
  const escaped = path
    .replace(/[.+?^${}()|[\]\\]/g, "\\$&")
    .replace(/:[^/]+/g, "[^/]+")
    .replace(/\*/g, ".*");
  return new RegExp(`^${escaped}/?$`);
}

/** The label of a path that no route serves. */
export const UNMATCHED = "unmatched";

/**
 * Maps a request path to the template of the route serving it: a set lookup once ids are replaced (nearly
 * every request), the route patterns otherwise (a malformed id, a trailing slash), else `unmatched`.
 */
export function routeLabeller(templates: () => string[]): (path: string) => string {
  let known: Set<string> | undefined;
  let patterns: { template: string; pattern: RegExp }[] | undefined;
  return (path) => {
    if (!known || !patterns) {
      const list = [...new Set(templates())];
      const named = (template: string) => template.replace(/:[^/]+/g, ":id");
      known = new Set(list.map(named));
      patterns = list.map((template) => ({ template: named(template), pattern: routePattern(template) }));
    }
    const label = withoutIds(path);
    if (known.has(label)) return label;
    return patterns.find((p) => p.pattern.test(path))?.template ?? UNMATCHED;
  };
}
