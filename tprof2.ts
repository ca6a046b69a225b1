const p = JSON.parse(await Bun.file(process.argv[2]).text());
const nodes = new Map<number, any>(); for (const n of p.nodes) nodes.set(n.id, n);
const self = new Map<number, number>();
for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
const incl = (id: number): number => { const n = nodes.get(id); return (self.get(id) ?? 0) + (n.children ?? []).reduce((a: number, c: number) => a + incl(c), 0); };
const root = p.nodes[0].id;
const walk = (id: number, depth: number) => { const n = nodes.get(id); const t = incl(id) / 1000; if (t < Number(process.argv[3] ?? 8)) return; console.log(`${"  ".repeat(depth)}${t.toFixed(1)} ${n.callFrame.functionName || "(anon)"} ${n.callFrame.url.split("/").slice(-1)[0]}:${n.callFrame.lineNumber}`); for (const c of n.children ?? []) walk(c, depth + 1); };
walk(root, 0);
