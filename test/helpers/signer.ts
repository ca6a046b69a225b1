// A fresh Ed25519 audit signer for a test (what `serve` loads from the data dir or the environment).
import { signerFromPkcs8, type Signer } from "../../src/audit/signing.ts";

export async function testSigner(): Promise<Signer> {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  return signerFromPkcs8(Buffer.from(await crypto.subtle.exportKey("pkcs8", pair.privateKey)).toString("base64"));
}
