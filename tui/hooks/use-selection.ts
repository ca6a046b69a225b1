// The selected row of a list: Up/Down (or k/j) move, clamped to the list.
import { useState } from "react";
import { useInput } from "ink";

/** A selectable list: Up/Down (or k/j) move; the selected row is marked with ">". */
export function useSelection(count: number, active: boolean): number {
  const [selected, setSelected] = useState(0);
  useInput(
    (input, key) => {
      if (key.downArrow || input === "j") setSelected((s) => Math.min(count - 1, s + 1));
      if (key.upArrow || input === "k") setSelected((s) => Math.max(0, s - 1));
    },
    { isActive: active },
  );
  return Math.min(selected, Math.max(0, count - 1));
}
