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

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
// Loghub's syslog-style files carry no year; any fixed one keeps gaps, times of day and weekdays consistent.
const DEFAULT_YEAR = 2005;

function monthOf(text: string): number | undefined {
  const index = MONTHS.indexOf(text.slice(0, 3).toLowerCase());
  return index < 0 ? undefined : index;
}

/** A line's time in epoch ms (UTC), from whichever date and time columns its system has. */
export function timestampOf(row: Record<string, string>): number | undefined {
  if (/^\d{9,10}$/.test(row.Timestamp ?? "")) return Number(row.Timestamp) * 1000;
  const fields = [row.Month, row.Date, row.Day, row.Time].filter((field): field is string => !!field);
  const text = fields.join(" ");
  const clock = /(?:^|\s)(\d{2}):?(\d{2}):?(\d{2})(?:[.,](\d{1,3}))?(?:\s|$)/.exec(row.Time ?? text);
  if (!clock) return undefined;
  let [year, month, day] = [DEFAULT_YEAR, 0, 1];
  const iso = /(\d{4})-(\d{2})-(\d{2})/.exec(text);
  const slashed = /\b(\d{2})\/(\d{2})\/(\d{2})\b/.exec(text);
  const compact = /^(\d{2})(\d{2})(\d{2})$/.exec(row.Date ?? "");
  const named = /\b([A-Z][a-z]{2})\s+(\d{1,2})\b(?:.*\b(\d{4})\b)?/.exec(text);
  if (iso) [year, month, day] = [Number(iso[1]), Number(iso[2]) - 1, Number(iso[3])];
  else if (slashed) [year, month, day] = [2000 + Number(slashed[1]), Number(slashed[2]) - 1, Number(slashed[3])];
  else if (compact) [year, month, day] = [2000 + Number(compact[1]), Number(compact[2]) - 1, Number(compact[3])];
  else if (named && monthOf(named[1] as string) !== undefined)
    [year, month, day] = [Number(named[3] ?? DEFAULT_YEAR), monthOf(named[1] as string) as number, Number(named[2])];
  const [, hours, minutes, seconds, fraction = "0"] = clock;
  return Date.UTC(year, month, day, Number(hours), Number(minutes), Number(seconds), Number(fraction.padEnd(3, "0")));
}
