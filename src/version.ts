// The version, and (in a compiled binary) the commit and build date scripts/build.ts stamps into it.
import pkg from "../package.json" with { type: "json" };

declare const CAUSELOOP_BUILD_COMMIT: string;
declare const CAUSELOOP_BUILD_DATE: string;

export const VERSION: string = pkg.version;

/** What `causeloop --version` reports: from source, the commit and date say so. */
export const BUILD = {
  version: pkg.version,
  commit: typeof CAUSELOOP_BUILD_COMMIT === "string" ? CAUSELOOP_BUILD_COMMIT : "source",
  built_at: typeof CAUSELOOP_BUILD_DATE === "string" ? CAUSELOOP_BUILD_DATE : "not built",
};

export const VERSION_LINE = `causeloop ${BUILD.version} (commit ${BUILD.commit}, built ${BUILD.built_at})`;
