// The delivery engine's settings (CAUSELOOP_DELIVERY_*), kept apart so the configuration imports no worker.
export interface DeliverySettings {
  /** Seconds before each retry: a delivery gets schedule.length + 1 attempts, then is dead-lettered. */
  retrySchedule: number[];
  /** Consecutive failed attempts of one destination that open its circuit. */
  breakerThreshold: number;
  /** How long the circuit first stays open; doubled at each reopening, at most an hour. */
  breakerSeconds: number;
}

/** Retries over 27 hours (5 s, 1 min, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, then the dead-letter queue). */
export const DEFAULT_RETRY_SCHEDULE = [5, 60, 300, 1800, 7200, 18000, 36000, 36000];
