// A readable API reference at /docs rendered from /openapi.json in the page itself: no CDN, works offline.
export function docsPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Causeloop API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
code,pre{font-family:ui-monospace,monospace;font-size:13px}
.op{border:1px solid #ccc;border-radius:6px;margin:.6rem 0;padding:.5rem .8rem}
.m{display:inline-block;min-width:4.5rem;font-weight:700}
h2{margin-top:2rem;border-bottom:1px solid #ddd}
</style></head><body>
<h1>Causeloop API</h1>
<p>Machine-readable: <a href="/openapi.json"><code>/openapi.json</code></a> (OpenAPI 3.1). Errors are
<code>application/problem+json</code> (RFC 9457) with <code>type, title, status, detail, code, request_id</code>.</p>
<div id="ops">Loading…</div>
<script>
fetch('/openapi.json').then(r => r.json()).then(spec => {
  const groups = {};
  for (const [path, item] of Object.entries(spec.paths || {})) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags && op.tags[0]) || 'other';
      (groups[tag] ||= []).push({ method: method.toUpperCase(), path, op });
    }
  }
  const esc = s => String(s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
  document.getElementById('ops').innerHTML = Object.entries(groups).map(([tag, ops]) =>
    '<h2>' + esc(tag) + '</h2>' + ops.map(o =>
      '<div class="op"><span class="m">' + esc(o.method) + '</span><code>' + esc(o.path) + '</code>' +
      (o.op.summary ? '<div>' + esc(o.op.summary) + '</div>' : '') +
      (o.op.security ? '<div>Requires: ' + esc(JSON.stringify(o.op.security)) + '</div>' : '') + '</div>').join('')).join('');
}).catch(e => { document.getElementById('ops').textContent = 'Could not load /openapi.json: ' + e; });
</script>
</body></html>`;
}
