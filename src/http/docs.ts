// /docs: the API reference rendered by Scalar from /openapi.json, with "try it" requests sent from the
// browser to this server. Scalar's standalone bundle is embedded in the binary and served from here: no CDN,
// no proxy, no web fonts fetched from elsewhere, so the page works on an air-gapped install and under a strict
// Content-Security-Policy (script-src 'self').
import { Elysia } from "elysia";
// Not among the package's exports: imported by path (as a file, so the build embeds it).
import scalarBundlePath from "../../node_modules/@scalar/api-reference/dist/browser/standalone.js" with {
  type: "file",
};

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Causeloop API reference</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><div id="api-reference"><noscript>The reference needs JavaScript. The contract itself is at
<a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</noscript></div>
<script src="/docs/scalar.js"></script>
<script src="/docs/init.js"></script>
</body></html>`;

// Same origin, no proxy: requests go from the browser straight to this server with the bearer token typed in.
// Scalar's hosted extras (the AI agent, MCP generation, the share/deploy toolbar) would call scalar.com: off.
const INIT = `Scalar.createApiReference("#api-reference", {
  url: "/openapi.json",
  proxyUrl: "",
  withDefaultFonts: false,
  showDeveloperTools: "never",
  agent: { disabled: true },
  mcp: { disabled: true },
  metaData: { title: "Causeloop API reference" },
  authentication: { preferredSecurityScheme: "bearer" },
});
`;

export function docsRoutes() {
  const hidden = { detail: { hide: true } };
  return new Elysia({ name: "docs" })
    .get("/docs", () => new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } }), hidden)
    .get(
      "/docs/init.js",
      () => new Response(INIT, { headers: { "content-type": "text/javascript; charset=utf-8" } }),
      hidden,
    )
    .get(
      "/docs/scalar.js",
      () =>
        new Response(Bun.file(scalarBundlePath), {
          headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=86400" },
        }),
      hidden,
    );
}
