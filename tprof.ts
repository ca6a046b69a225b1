const f = process.argv[2];
const p = JSON.parse(await Bun.file(f).text());
const nodes = new Map<number, any>(); for (const n of p.nodes) nodes.set(n.id, n);
const self = new Map<number, number>();
const dt = p.timeDeltas; 
for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (dt[i] ?? 0));
const agg = new Map<string, number>();
for (const [id, t] of self) { const n = nodes.get(id); const k = `${n.callFrame.functionName || "(anon)"} ${n.callFrame.url.split("/").slice(-1)[0]}:${n.callFrame.lineNumber}`; agg.set(k, (agg.get(k) ?? 0) + t); }
const tot = [...agg.values()].reduce((a, b) => a + b, 0);
console.log("total ms", tot / 1000);
for (const [k, v] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log((v / 1000).toFixed(1), k);
