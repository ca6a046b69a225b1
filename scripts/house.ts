// The house in numbers, for closing notes and reviews: files over 250 lines, casts in the faces (cli/, tui/),
// and import arrows between capability folders of src/ (distinct from -> to pairs). `bun scripts/house.ts`.
import { Glob } from "bun";
import { dirname, relative, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
const files = [...new Glob("{src,cli,tui}/**/*.{ts,tsx}").scanSync(root)];
const long: string[] = [];
let casts = 0;
const arrows = new Set<string>();
for (const file of files) {
  const text = await Bun.file(resolve(root, file)).text();
  const lines = text.split("\n").length;
  if (lines > 250) long.push(`${file} ${lines}`);
  if (file.startsWith("cli/") || file.startsWith("tui/"))
    casts += (text.match(/\sas\s(?!const\b)[A-Z{[]/g) ?? []).length;
  if (!file.startsWith("src/")) continue;
  const from = file.split("/")[1]?.replace(/\.tsx?$/, "") ?? "";
  for (const match of text.matchAll(/from\s+"(\.[^"]+)"/g)) {
    const target = relative(root, resolve(root, dirname(file), match[1] as string));
    if (!target.startsWith("src/")) continue;
    const to = target.split("/")[1]?.replace(/\.tsx?$/, "") ?? "";
    if (to !== from) arrows.add(`${from} -> ${to}`);
  }
}
console.log(`files over 250 lines: ${long.length}`);
for (const line of long.sort()) console.log(`  ${line}`);
console.log(`casts in cli/ and tui/: ${casts}`);
console.log(`import arrows between src/ folders: ${arrows.size}`);
