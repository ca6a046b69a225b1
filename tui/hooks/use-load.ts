// Data for a screen, loaded on mount and reloaded on demand; errors are shown, never thrown.
import { useCallback, useEffect, useState } from "react";

/** Loads data for a screen and reloads it on demand, and when `key` changes (a screen's chosen workspace). */
export function useLoad<T>(
  load: () => Promise<T>,
  key?: unknown,
): {
  data: T | undefined;
  error: string | undefined;
  reload: () => void;
} {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const [tick, setTick] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: reload on demand (tick) or a new key, not on every new closure
  useEffect(() => {
    let live = true;
    load().then(
      (d) => live && (setData(d), setError(undefined)),
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [tick, key]);
  return { data, error, reload: useCallback(() => setTick((t) => t + 1), []) };
}
