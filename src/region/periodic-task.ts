/**
 * Runs a region's background task on a timer, one run at a time (a run still going when the timer fires
 * again is not doubled), logging its failures, with a stop that waits for the run in progress so the
 * database can be closed after it.
 * @module
 */
import type { FastifyBaseLogger } from 'fastify';
import { coerceError } from '../domain/errors.js';

export interface PeriodicTask {
  /** Ends the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

export function startPeriodicTask(options: {
  /** For the log line of a failed run. */
  name: string;
  intervalMs: number;
  /** Run once at start too, not only after the first interval. */
  runNow?: boolean;
  run: () => Promise<void>;
  log: FastifyBaseLogger;
}): PeriodicTask {
  let running: Promise<void> | undefined;
  const tick = (): void => {
    if (running !== undefined) return;
    running = options
      .run()
      .catch((error: unknown) => options.log.error({ err: coerceError(error) }, `${options.name} failed`))
      .finally(() => (running = undefined));
  };
  if (options.runNow === true) tick();
  const timer = setInterval(tick, options.intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
