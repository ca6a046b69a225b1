// Small presentational pieces of the console. Status is always spelled out (OK, FAIL, OVERDUE), never
// shown by colour alone.
import type React from "react";
import { useState } from "react";
import { Box, Text, useInput } from "ink";

export function Status({ ok, label }: { ok: boolean; label?: string }) {
  return (
    <Text color={ok ? "green" : "red"} bold>
      {label ?? (ok ? "OK" : "FAIL")}
    </Text>
  );
}

export function Line({ children }: { children: React.ReactNode }) {
  return <Text wrap="truncate-end">{children}</Text>;
}

export interface Field {
  name: string;
  label: string;
  secret?: boolean;
}

/** A one-screen form: type, Tab or Enter for the next field, Enter on the last submits, Esc cancels. */
export function Form({
  title,
  fields,
  onSubmit,
  onCancel,
}: {
  title: string;
  fields: Field[];
  onSubmit: (values: Record<string, string>) => void;
  onCancel: () => void;
}) {
  const [values, setValues] = useState<Record<string, string>>({});
  const [index, setIndex] = useState(0);
  useInput((input, key) => {
    if (key.escape) return onCancel();
    // Typed-ahead text can arrive in one chunk with its Enter ("globex\r"): handle it character by character.
    let current = index;
    const next = { ...values };
    const advance = (): boolean => {
      if (current < fields.length - 1) {
        current += 1;
        return false;
      }
      onSubmit(next);
      return true;
    };
    if (key.return || key.tab) {
      if (!advance()) setIndex(current);
      return;
    }
    const field = fields[current];
    if (!field) return;
    if (key.backspace || key.delete)
      return setValues({ ...values, [field.name]: (values[field.name] ?? "").slice(0, -1) });
    if (!input || key.ctrl || key.meta) return;
    for (const ch of input) {
      const name = fields[current]?.name as string;
      if (ch === "\r" || ch === "\n" || ch === "\t") {
        if (advance()) return;
      } else next[name] = (next[name] ?? "") + ch;
    }
    setValues(next);
    setIndex(current);
  });
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1}>
      <Text bold>{title}</Text>
      {fields.map((f, i) => (
        <Text key={f.name}>
          {i === index ? "> " : "  "}
          {f.label}: {f.secret ? "*".repeat((values[f.name] ?? "").length) : (values[f.name] ?? "")}
          {i === index ? "_" : ""}
        </Text>
      ))}
      <Text dimColor>Enter/Tab next field, Enter on the last submits, Esc cancels</Text>
    </Box>
  );
}

/** A y/N question before anything destructive: y runs it, anything else (n, Esc, Enter) cancels. */
export function Confirm({ question, onYes, onNo }: { question: string; onYes: () => void; onNo: () => void }) {
  useInput((input, key) => {
    if (input.toLowerCase() === "y") return onYes();
    if (key.escape || key.return || input.toLowerCase() === "n") return onNo();
  });
  return (
    <Box borderStyle="round" paddingX={1}>
      <Text bold wrap="wrap">
        {question} [y/N]
      </Text>
    </Box>
  );
}
