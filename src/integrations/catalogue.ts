// What can be connected: the global connector catalogue (reference data), with whether each product sends its
// events to Causeloop (an inbound kind: creating its connector creates its receiving URL) and how it signs them.
import type { Static } from "elysia";
import type { Tx } from "../db/engine.ts";
import { isSource } from "../ingestion/adapters/index.ts";
import { VENDOR_SCHEMES } from "../ingestion/signatures.ts";
import type { CatalogueEntry } from "./schemas.ts";

interface CatalogueRow {
  slug: string;
  name: string;
  category: string;
  auth_kind: string;
  description: string;
  docs_url: string | null;
}

export async function listCatalogue(tx: Tx): Promise<{ data: Static<typeof CatalogueEntry>[]; next_cursor: null }> {
  const rows = await tx.query<CatalogueRow>(
    "select slug, name, category, auth_kind, description, docs_url from connector_catalogue order by slug",
  );
  return {
    data: rows.map((row) => {
      const inbound = isSource(row.slug);
      const vendor = inbound ? VENDOR_SCHEMES[row.slug as keyof typeof VENDOR_SCHEMES] : undefined;
      return {
        ...row,
        inbound,
        signature_schemes: inbound ? [...(vendor ? [vendor] : []), "standard_webhooks", "causeloop"] : [],
      };
    }),
    next_cursor: null,
  };
}
