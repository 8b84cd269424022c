/**
 * Node flags a Ferry region process should run with. They cannot be set from inside the process (V8 sizes
 * its heap before any of Ferry's code runs), so every launcher passes them: `bin/ferry.js` (its shebang),
 * the `start` and `ferry` scripts of package.json, the tests' and the benchmark's process helpers. Keep the
 * copies equal; `test/unit/cli/node-flags.test.ts` checks that they are.
 *
 * `--initial-old-space-size=128`: V8 starts a full (mark-compact) collection when the old generation plus
 * the memory of ArrayBuffers allocated since the last one passes a limit. Node's HTTP parser hands every
 * 64 KiB of a request body to JavaScript as a freshly allocated Buffer, so an upload allocates thousands of
 * ArrayBuffers per second, whose bytes count against that limit until a collection has swept them. Once
 * an idle server's heap was shrunk to its ~16 MiB of live objects, the limit sat ~12 MiB above them, and a
 * 2 GiB upload ran 77-85 mark-compacts back to back: 1.5-2.5 CPU-seconds and 1-1.5 s of wall time of a
 * 7.5-9 s upload on the 2-core dev VM (`--trace-gc`, perf). A 128 MiB floor leaves that churn room: no
 * mark-compact in a 2 GiB upload after 5-10 s idle, 6.1-7.2 s instead of 7.5-9.1 s (64 gave 1-2
 * mark-compacts, 48 gave 38, 32 gave 69). Dead pieces then wait longer to be freed, so peak RSS rises a
 * little: 181 instead of 175 MiB in the 8 GiB sparse upload test, 233-241 instead of 208-228 MiB for the
 * bench's second upload into a region that has served a replication. It is a starting size, not a cap.
 * Since uploads read their body straight into the ingest ring (api/socket-body.ts), that churn is gone:
 * a 2 GiB upload measured the same with and without the flag (7.3 vs 7.8 s, main thread 2.1 vs 2.2 CPU-s,
 * peak RSS 129 vs 139 MiB, one run each, `npm run bench -- --only upload`), so it stays as a floor.
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=128'];
