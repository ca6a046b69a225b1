// Bulk import of event history into a workspace (`causeloop ingest`), through the tenant door.
import { Type } from "@sinclair/typebox";
import { existsSync } from "node:fs";
import { AppError } from "../../errors.ts";
import { SOURCES } from "../../ingestion/adapters/index.ts";
import { importFile } from "../../ingestion/import.ts";
import { defineOperation } from "../contract.ts";

export const ingestionOperations = {
  "ingest.file": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object(
      {
        workspace: Type.String({ pattern: "^ws_[0-9a-z]{26}$" }),
        source: Type.Union(SOURCES.map((s) => Type.Literal(s))),
        file: Type.String({ minLength: 1, maxLength: 4096 }),
        normalized: Type.Optional(Type.Boolean()),
      },
      { additionalProperties: false },
    ),
    run: async ({ engine, actor }, args, progress) => {
      if (!existsSync(args.file)) throw new AppError("not_found", `no file at ${args.file}`);
      const [workspace] = await engine.query<{ id: string }>("select id from workspaces where id = $1", [
        args.workspace,
      ]);
      if (!workspace) throw new AppError("not_found", `workspace ${args.workspace} not found`);
      return importFile(
        engine,
        {
          workspaceId: args.workspace,
          source: args.source,
          path: args.file,
          normalized: args.normalized ?? false,
          operator: actor,
        },
        progress,
      );
    },
  }),
};
