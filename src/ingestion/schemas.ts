// The ingestion routes' answers, as the OpenAPI contract names them (#/components/schemas/...).
import { t } from "elysia";
import { component, Nullable } from "../http/contract.ts";

export const IngestResult = component(
  "IngestResult",
  t.Object({
    accepted: t.Integer({ description: "Events stored now" }),
    duplicates: t.Integer({ description: "Events already received (same source and vendor event id): ignored" }),
    events: t.Array(
      t.Object({
        id: t.String({ examples: ["evt_01jd0000000000000000000000"] }),
        duplicate: t.Boolean(),
        issue_id: Nullable(t.String()),
        issue_action: t.Union(
          ["opened", "updated", "reopened", "resolved", "none"].map((a) => t.Literal(a)),
          { description: "What the event did to its issue" },
        ),
      }),
    ),
  }),
);
