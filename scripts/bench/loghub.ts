// Reads a Loghub `*_structured.csv` file: RFC 4180 fields (quoted, with embedded commas, doubled quotes and
// line breaks), the header naming the columns. Used by the clustering bench and its test.
import { readFileSync } from "node:fs";

export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch !== '"') field += ch;
      else if (text[i + 1] === '"') (field += '"'), i++;
      else quoted = false;
      continue;
    }
    if (ch === '"') quoted = true;
    else if (ch === ",") row.push(field), (field = "");
    else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(field), rows.push(row), (row = []), (field = "");
    } else field += ch;
  }
  if (field !== "" || row.length > 0) row.push(field), rows.push(row);
  return rows;
}

export type LoghubLine = {
  lineId: number;
  content: string;
  eventId: string;
  template: string;
  row: Record<string, string>;
};

/** The file's lines in LineId order. */
export function readLoghub(path: string): LoghubLine[] {
  const [header, ...rows] = parseCsv(readFileSync(path, "utf8"));
  if (!header) return [];
  const column = (name: string) => {
    const index = header.indexOf(name);
    if (index < 0) throw new Error(`${path}: no ${name} column`);
    return index;
  };
  const [lineId, content, eventId, template] = ["LineId", "Content", "EventId", "EventTemplate"].map(column);
  return rows
    .filter((cells) => cells.length === header.length)
    .map((cells) => ({
      lineId: Number(cells[lineId as number]),
      content: cells[content as number] as string,
      eventId: cells[eventId as number] as string,
      template: cells[template as number] as string,
      row: Object.fromEntries(header.map((name, i) => [name, cells[i] as string])),
    }))
    .sort((a, b) => a.lineId - b.lineId);
}
