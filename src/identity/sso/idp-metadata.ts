// A SAML IdP's metadata document, fetched through the SSRF guard when a connection names `metadata_url`: its
// entity id, its HTTP-Redirect sign-in URL and its signing certificate fill the connection.
import { AppError } from "../../errors.ts";
import { guardedFetch } from "../../net/fetch.ts";
import type { OutboundPolicy } from "../../net/policy.ts";
import { assertUserUrl } from "../../net/user-url.ts";
import { certificateFingerprint } from "./connections.ts";
import { outboundRefusal } from "./oidc.ts";

export interface IdpMetadata {
  entityId: string;
  ssoUrl: string;
  certificate: string;
}

const REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
const attribute = (tag: string, name: string) => new RegExp(`\\b${name}="([^"]*)"`).exec(tag)?.[1];
const elements = (xml: string, name: string) =>
  [...xml.matchAll(new RegExp(`<(?:[\\w-]+:)?${name}\\b([^>]*)>([\\s\\S]*?)</(?:[\\w-]+:)?${name}>`, "g"))].map(
    (m) => ({ attributes: m[1] ?? "", body: m[2] ?? "" }),
  );
const pem = (base64: string) =>
  `-----BEGIN CERTIFICATE-----\n${base64
    .replace(/\s+/g, "")
    .match(/.{1,64}/g)
    ?.join("\n")}\n-----END CERTIFICATE-----\n`;

/** Reads what the connection needs; throws validation_failed naming what is missing. */
export function parseIdpMetadata(xml: string): IdpMetadata {
  const invalid = (what: string) => new AppError("validation_failed", `metadata_url: the metadata has no ${what}`);
  const entityId = attribute(/<(?:[\w-]+:)?EntityDescriptor\b[^>]*>/.exec(xml)?.[0] ?? "", "entityID");
  if (!entityId) throw invalid("EntityDescriptor entityID");
  const idp = elements(xml, "IDPSSODescriptor")[0]?.body;
  if (!idp) throw invalid("IDPSSODescriptor");
  const sso = [...idp.matchAll(/<(?:[\w-]+:)?SingleSignOnService\b[^>]*>/g)]
    .map((m) => m[0])
    .find((tag) => attribute(tag, "Binding") === REDIRECT);
  const ssoUrl = sso ? attribute(sso, "Location") : undefined;
  if (!ssoUrl) throw invalid("HTTP-Redirect SingleSignOnService");
  const signing = elements(idp, "KeyDescriptor").find((k) => attribute(k.attributes, "use") !== "encryption");
  const base64 = signing ? elements(signing.body, "X509Certificate")[0]?.body : undefined;
  const certificate = base64 ? pem(base64) : undefined;
  if (!certificate || !certificateFingerprint(certificate)) throw invalid("signing certificate");
  return { entityId, ssoUrl: ssoUrl.replaceAll("&amp;", "&"), certificate };
}

/** Fetches and reads the metadata through the guard; a refusal or a bad document is a 422 naming the field. */
export async function fetchIdpMetadata(url: string, policy: OutboundPolicy): Promise<IdpMetadata> {
  assertUserUrl(url, policy, "metadata_url");
  let xml: string;
  try {
    const response = await guardedFetch(
      url,
      { headers: { accept: "application/samlmetadata+xml, application/xml" } },
      policy,
    );
    if (!response.ok) throw new AppError("validation_failed", `metadata_url answered ${response.status}`);
    xml = await response.text();
  } catch (error) {
    if (error instanceof AppError) throw error;
    const refused = outboundRefusal(error);
    throw new AppError("validation_failed", `metadata_url ${refused?.message ?? "could not be fetched"}`);
  }
  return parseIdpMetadata(xml);
}
