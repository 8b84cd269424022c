/**
 * Ctrl-C and SIGTERM: a graceful stop for servers (`stopOnSignals`: close servers and databases once, then
 * exit), and for client commands a stack of interrupt handlers (a job wait asks whether to cancel its jobs).
 * @module
 */
export function stopOnSignals(close: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\nStopping (${signal})...`);
    close()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        console.error(error);
        process.exit(1);
      });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

/** Handlers for Ctrl-C in client commands, newest first; see `installInterruptHandling`. */
const interruptHandlers: Array<() => void> = [];

/**
 * Ctrl-C in a client command: the newest pushed handler runs (a job wait asks what to do with its jobs);
 * with none, the terminal's cursor is restored and the command exits 130. Installed once, by the commands
 * that talk to a region (not by `serve`/`local`, which stop their servers instead).
 */
export function installInterruptHandling(): void {
  if (process.listenerCount('SIGINT') > 0) return;
  process.on('SIGINT', () => {
    const handler = interruptHandlers.at(-1);
    if (handler) return handler();
    if (process.stderr.isTTY) process.stderr.write('\x1b[?25h\n');
    process.stderr.write('ferry: interrupted\n');
    process.exit(130);
  });
}

/** Makes `handler` the one Ctrl-C runs until the returned function is called. */
export function pushInterruptHandler(handler: () => void): () => void {
  interruptHandlers.push(handler);
  return () => {
    const index = interruptHandlers.lastIndexOf(handler);
    if (index >= 0) interruptHandlers.splice(index, 1);
  };
}
