/**
 * The clock every store function takes, so tests can pin time.
 * @module
 */
export interface Clock {
  now(): Date;
}

export const SYSTEM_CLOCK: Clock = { now: () => new Date() };

/** ISO-8601 UTC with milliseconds: fixed width, so timestamps sort correctly as text in both dialects. */
export function timestamp(clock: Clock): string {
  return clock.now().toISOString();
}
