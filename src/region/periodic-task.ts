/**
 * Runs a region's background task on a timer, one run at a time (a run still going when the timer fires
 * again is not doubled), logging its failures, with a stop that waits for the run in progress so the
 * database can be closed after it.
 * @module
 */
import type { FastifyBaseLogger } from 'fastify';
import { coerceError } from '../domain/errors.js';

export interface PeriodicTask {
  /** Ends the timer, aborts the signal a run in progress was given, and waits for that run. */
  stop(): Promise<void>;
}

export function startPeriodicTask(options: {
  /** For the log line of a failed run. */
  name: string;
  intervalMs: number;
  /** Run once at start too, not only after the first interval. */
  runNow?: boolean;
  /** `signal` aborts when the task is stopped: a long run (a scrub of the whole store) should stop early. */
  run: (signal: AbortSignal) => Promise<void>;
  log: FastifyBaseLogger;
}): PeriodicTask {
  let running: Promise<void> | undefined;
  const stopped = new AbortController();
  const tick = (): void => {
    if (running !== undefined) return;
    running = options
      .run(stopped.signal)
      .catch((error: unknown) => {
        if (!stopped.signal.aborted) options.log.error({ err: coerceError(error) }, `${options.name} failed`);
      })
      .finally(() => (running = undefined));
  };
  if (options.runNow === true) tick();
  const timer = setInterval(tick, options.intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      stopped.abort();
      await running;
    },
  };
}
