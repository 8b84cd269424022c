/**
 * When the supervisor of `ferry local` starts a region process again after it ended: at once after a region
 * that had been running a while, with a doubling delay after one that ended soon after it started (a region
 * that crashes at start would otherwise be started again and again as fast as it dies), and never again after
 * a bounded number of such quick failures in a row.
 * @module
 */

export interface RestartPolicy {
  /** A process that ended sooner than this after it was started failed quickly (default: 10 s). */
  quickFailureMs: number;
  /** Delay before starting again after the first quick failure; doubled after each further one (default: 250 ms). */
  firstDelayMs: number;
  /** The longest delay (default: 8 s). */
  maxDelayMs: number;
  /** Quick failures in a row after which the region is not started again (default: 5). */
  maxQuickFailures: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  quickFailureMs: 10_000,
  firstDelayMs: 250,
  maxDelayMs: 8_000,
  maxQuickFailures: 5,
};

/** What to do after a region process ended. */
export type RestartDecision =
  { restart: true; delayMs: number; quickFailures: number } | { restart: false; quickFailures: number };

/**
 * Decides after a process that ran `ranMs` ended, `quickFailures` being the quick failures in a row before it.
 * A process that ran long enough resets the count: a region killed after hours comes back at once.
 */
export function decideRestart(policy: RestartPolicy, quickFailures: number, ranMs: number): RestartDecision {
  if (ranMs >= policy.quickFailureMs) return { restart: true, delayMs: 0, quickFailures: 0 };
  const failures = quickFailures + 1;
  if (failures >= policy.maxQuickFailures) return { restart: false, quickFailures: failures };
  const delayMs = Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** (failures - 1));
  return { restart: true, delayMs, quickFailures: failures };
}
