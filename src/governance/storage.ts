// Where export archives go: a local directory (default, served by the binary through signed links) or any
// S3-compatible bucket (Bun's built-in S3 client; links are S3 presigned URLs).
import { mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import type { S3Bucket } from "../config.ts";
import type { ExportLinks } from "./export-links.ts";

export interface ArchiveStore {
  readonly kind: "local" | "s3";
  /** Moves a finished archive into the store; returns its storage key. */
  put(file: string, workspaceId: string, exportId: string): Promise<string>;
  /** A download link that expires. */
  link(workspaceId: string, exportId: string, key: string): { url: string; expires_at: string };
  remove(key: string): Promise<void>;
}

export function localStore(root: string, links: ExportLinks): ArchiveStore {
  return {
    kind: "local",
    async put(file, workspaceId, exportId) {
      const target = join(root, workspaceId, `${exportId}.tar.gz`);
      mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
      renameSync(file, target);
      return target;
    },
    link(workspaceId, exportId) {
      const { path, expires_at } = links.path(workspaceId, exportId);
      return { url: path, expires_at };
    },
    async remove(key) {
      rmSync(key, { force: true });
    },
  };
}

export type S3Settings = S3Bucket;

/** Bun's built-in S3 client for a configured bucket (exports, and the backups' off-machine copy). */
export function s3Client(settings: S3Settings): Bun.S3Client {
  return new Bun.S3Client({
    bucket: settings.bucket,
    endpoint: settings.endpoint,
    region: settings.region,
    accessKeyId: settings.accessKeyId,
    secretAccessKey: settings.secretAccessKey,
  });
}

export function s3Store(settings: S3Settings, linkMinutes: number): ArchiveStore {
  const client = s3Client(settings);
  return {
    kind: "s3",
    async put(file, workspaceId, exportId) {
      const key = `${settings.prefix}${workspaceId}/${exportId}.tar.gz`;
      await client.write(key, Bun.file(file), { type: "application/gzip" });
      rmSync(file, { force: true });
      return key;
    },
    link(_workspaceId, _exportId, key) {
      return {
        url: client.presign(key, { expiresIn: linkMinutes * 60, method: "GET" }),
        expires_at: new Date(Date.now() + linkMinutes * 60_000).toISOString(),
      };
    },
    async remove(key) {
      await client.delete(key);
    },
  };
}

/** The store configured for this installation: S3 when CAUSELOOP_EXPORT_S3_BUCKET is set, else local. */
export function archiveStore(
  config: { exportDir: string; exportLinkMinutes: number; exportS3: S3Settings | undefined },
  links: ExportLinks,
): ArchiveStore {
  return config.exportS3 ? s3Store(config.exportS3, config.exportLinkMinutes) : localStore(config.exportDir, links);
}
