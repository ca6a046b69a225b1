// A local export archive store on a temporary directory, with its signed-link maker (tests that approve
// erasures need one: an erasure deletes the workspace's archives).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportLinks, type ExportLinks } from "../../src/governance/export-links.ts";
import { localStore, type ArchiveStore } from "../../src/governance/storage.ts";

export interface TestExportStore {
  root: string;
  links: ExportLinks;
  store: ArchiveStore;
  dispose(): void;
}

export function testExportStore(): TestExportStore {
  const root = mkdtempSync(join(tmpdir(), "causeloop-exports-"));
  const links = exportLinks(new TextEncoder().encode("export-link-secret-0123456789"), 15);
  const dispose = () => rmSync(root, { recursive: true, force: true });
  process.once("exit", dispose);
  return { root, links, store: localStore(root, links), dispose };
}
