// A real SAML identity provider (samlify) with its own key pair and self-signed certificate (openssl), fed the
// service provider's metadata, producing signed responses; and the helpers the refused cases build on.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateRawSync } from "node:zlib";
import * as validator from "@authenio/samlify-node-xmllint";
import { IdentityProvider, SamlLib, ServiceProvider, setSchemaValidator } from "samlify";

export const IDP_ENTITY_ID = "https://idp.corp.example/saml";
export const IDP_SSO_URL = "https://idp.corp.example/saml/sso";

/** A fresh RSA key and self-signed certificate, made by openssl. */
export function keyPair(name: string): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), "causeloop-saml-"));
  const [keyFile, certFile] = [join(dir, "key.pem"), join(dir, "cert.pem")];
  const args = "req -x509 -newkey rsa:2048 -nodes -sha256 -days 2".split(" ");
  const result = Bun.spawnSync(["openssl", ...args, "-subj", `/CN=${name}`, "-keyout", keyFile, "-out", certFile]);
  if (result.exitCode !== 0) throw new Error(`openssl failed: ${result.stderr.toString()}`);
  return { key: readFileSync(keyFile, "utf8"), cert: readFileSync(certFile, "utf8") };
}

export interface Assertion {
  nameId: string;
  email?: string;
  groups?: string[];
  /** The AuthnRequest answered (SP-initiated); none for an IdP-initiated response. */
  inResponseTo?: string;
  audience?: string;
  recipient?: string;
  /** The assertion's issuer (default the IdP's entity id). */
  issuer?: string;
  /** Seconds from now: the assertion's validity window (default -60 .. +300). */
  notBefore?: number;
  notOnOrAfter?: number;
}

const xmlText = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/"/g, "&quot;");

function attributeStatement(a: Assertion): string {
  const attribute = (name: string, values: string[]) =>
    `<saml:Attribute Name="${name}">${values.map((v) => `<saml:AttributeValue xsi:type="xs:string">${xmlText(v)}</saml:AttributeValue>`).join("")}</saml:Attribute>`;
  const parts = [a.email ? attribute("email", [a.email]) : "", a.groups?.length ? attribute("groups", a.groups) : ""];
  return parts.some(Boolean) ? `<saml:AttributeStatement>${parts.join("")}</saml:AttributeStatement>` : "";
}

export interface TestSamlIdp {
  cert: string;
  /** The IdP's own metadata document (entity id, sign-in URL, signing certificate). */
  metadata: string;
  /** A signed SAMLResponse (base64, as the browser posts it) for the SP whose metadata is given. */
  respond(spMetadata: string, assertion: Assertion): Promise<string>;
}

export function startSamlIdp(): TestSamlIdp {
  setSchemaValidator(validator);
  const { key, cert } = keyPair("test-idp");
  const idp = IdentityProvider({
    entityID: IDP_ENTITY_ID,
    privateKey: key,
    signingCert: cert,
    nameIDFormat: ["urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"],
    singleSignOnService: [{ Binding: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect", Location: IDP_SSO_URL }],
  });
  return {
    cert,
    metadata: idp.getMetadata(),
    async respond(spMetadata, a) {
      const sp = ServiceProvider({ metadata: spMetadata });
      const acs = /<(?:\w+:)?AssertionConsumerService[^>]*Location="([^"]+)"/.exec(spMetadata)?.[1] ?? "";
      const at = (seconds: number) => new Date(Date.now() + seconds * 1000).toISOString();
      const id = `_${crypto.randomUUID()}`;
      // samlify's own login response template, filled here (its filler escapes the statements' XML).
      const response = await idp.createLoginResponse(sp, { extract: {} }, "post", {}, () => {
        const values: Record<string, string> = {
          ID: id,
          AssertionID: `_${crypto.randomUUID()}`,
          Destination: acs,
          Audience: a.audience ?? sp.entityMeta.getEntityID(),
          SubjectRecipient: a.recipient ?? acs,
          Issuer: a.issuer ?? IDP_ENTITY_ID,
          IssueInstant: at(0),
          StatusCode: "urn:oasis:names:tc:SAML:2.0:status:Success",
          ConditionsNotBefore: at(a.notBefore ?? -60),
          ConditionsNotOnOrAfter: at(a.notOnOrAfter ?? 300),
          SubjectConfirmationDataNotOnOrAfter: at(a.notOnOrAfter ?? 300),
          NameIDFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
          NameID: xmlText(a.nameId),
          InResponseTo: a.inResponseTo ?? "",
          AuthnStatement: `<saml:AuthnStatement AuthnInstant="${at(0)}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`,
          AttributeStatement: attributeStatement(a),
        };
        let context = SamlLib.defaultLoginResponseTemplate.context.replace(
          /\{(\w+)\}/g,
          (_, k: string) => values[k] ?? "",
        );
        if (!a.inResponseTo) context = context.replaceAll(' InResponseTo=""', "");
        return { id, context };
      });
      return response.context;
    },
  };
}

/** The ID of the AuthnRequest carried by an HTTP-Redirect binding URL. */
export function authnRequestId(redirectUrl: string): string {
  const request = new URL(redirectUrl).searchParams.get("SAMLRequest") ?? "";
  const xml = inflateRawSync(Buffer.from(request, "base64")).toString("utf8");
  const id = /\sID="([^"]+)"/.exec(xml)?.[1];
  if (!id) throw new Error(`no ID in the AuthnRequest: ${xml.slice(0, 200)}`);
  return id;
}

export const decode = (response: string) => Buffer.from(response, "base64").toString("utf8");
export const encode = (xml: string) => Buffer.from(xml, "utf8").toString("base64");
