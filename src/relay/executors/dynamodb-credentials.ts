// Credentials for a DynamoDB database the client reaches through a role: an STS AssumeRole with the client's
// external id, cached, and assumed again before the 15-minute session runs out.
import { AssumeRoleCommand, STSClient, type STSClientConfig } from "@aws-sdk/client-sts";
import { RelayRefusal } from "../types.ts";

export interface TemporaryCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

export interface AssumeRoleOptions {
  name: string;
  region: string;
  roleArn: string;
  externalId?: string;
  /** An STS endpoint other than the region's (a VPC endpoint, FIPS). */
  stsEndpoint?: string;
  /** The HTTP handler STS requests go through (a proxy-aware agent). */
  stsRequestHandler?: STSClientConfig["requestHandler"];
}

export const SESSION_SECONDS = 900;
/** Assume again when less than this is left, so a query never starts on credentials about to expire. */
export const REFRESH_MARGIN_MS = 5 * 60_000;

/** AWS allows [\w+=,.@-]{2,64} in a session name; the database's name is made to fit. */
export function sessionName(dbName: string): string {
  return `causeloop-relay-${dbName}`.replace(/[^\w+=,.@-]/g, "-").slice(0, 64);
}

/** An AWS error's name and message, without anything that looks like an access key. */
export function awsErrorText(e: unknown): string {
  const err = e instanceof Error ? e : new Error(String(e));
  const text = err.name && err.name !== "Error" ? `${err.name}: ${err.message}` : err.message;
  return text.replace(/\b(AKIA|ASIA)[A-Z0-9]{12,}\b/g, "[access key]");
}

export interface AssumedRole {
  /** A credential provider for the SDK: AssumeRole on first use and whenever the session is close to expiry. */
  credentials: () => Promise<TemporaryCredentials>;
  close(): void;
}

export function assumeRoleProvider(opts: AssumeRoleOptions): AssumedRole {
  // The STS client itself signs with the relay's own credentials (environment, profile or instance role).
  const sts = new STSClient({
    region: opts.region,
    ...(opts.stsEndpoint ? { endpoint: opts.stsEndpoint } : {}),
    ...(opts.stsRequestHandler ? { requestHandler: opts.stsRequestHandler } : {}),
    maxAttempts: 2,
  });
  let cached: TemporaryCredentials | undefined;
  let pending: Promise<TemporaryCredentials> | undefined;

  const assume = async (): Promise<TemporaryCredentials> => {
    try {
      const out = await sts.send(
        new AssumeRoleCommand({
          RoleArn: opts.roleArn,
          RoleSessionName: sessionName(opts.name),
          DurationSeconds: SESSION_SECONDS,
          ...(opts.externalId ? { ExternalId: opts.externalId } : {}),
        }),
      );
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration)
        throw new Error("STS returned no credentials");
      cached = {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
        expiration: c.Expiration,
      };
      return cached;
    } catch (e) {
      throw new RelayRefusal(
        "unavailable",
        `DynamoDB "${opts.name}": could not assume role ${opts.roleArn}: ${awsErrorText(e)}`,
      );
    } finally {
      pending = undefined;
    }
  };

  return {
    credentials: () => {
      if (cached && cached.expiration.getTime() - Date.now() > REFRESH_MARGIN_MS) return Promise.resolve(cached);
      pending ??= assume();
      return pending;
    },
    close: () => sts.destroy(),
  };
}
