// `ferry local` runs each region in an OS process of its own under a supervisor: one process per region
// (children of the supervisor, each serving its region's port), a region killed with SIGKILL is started
// again on the same port with its data, one that keeps failing at start is given up on, SIGINT stops them
// all, and they end by themselves when the supervisor is killed. Real processes from the build (dist/).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { api, OCTET } from '../helpers/deployment.js';
import { ferryArgs } from '../helpers/ferry-command.js';
import { childProcesses, isAlive, listeningPid } from '../helpers/process-table.js';
import { requestReplication, waitForJob } from '../helpers/replication.js';
import { makeTempDir } from '../helpers/tmp.js';
import { ownStackSkip } from '../helpers/stack.js';

const REGIONS = ['north-1', 'south-1'];

interface Supervisor {
  process: ChildProcess;
  pid: number;
  token: string;
  url(region: string): string;
  /** Everything it and its regions printed so far (stdout and stderr). */
  output(): string;
  /** Waits until the output matches (fails at once if the supervisor ended). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Its region processes now, by region name (from the process list). */
  regionPids(): Promise<Map<string, number>>;
}

/** Waits until `check` holds, polling; fails with `what` after the timeout. */
async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

/**
 * Starts `ferry local` on ports the system chooses, in a new data folder. After the test every process it
 * started is killed: the supervisor and each region process seen or announced (restarts included).
 */
async function startSupervisor(t: TestContext): Promise<Supervisor> {
  const seen = new Set<number>();
  const launched: { supervisor?: ChildProcess } = {};
  let text = '';
  // Added before the data folder's removal: hooks run in the order they are added.
  t.after(async () => {
    const child = launched.supervisor;
    if (child?.pid !== undefined) {
      for (const entry of await childProcesses(child.pid)) seen.add(entry.pid);
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
      }
    }
    for (const match of text.matchAll(/pid (\d+)/g)) seen.add(Number(match[1]));
    seen.delete(child?.pid ?? 0); // ended above
    for (const pid of seen) if (await isAlive(pid)) process.kill(pid, 'SIGKILL');
  });
  const dataDir = await makeTempDir(t);
  const supervisor = spawn(
    process.execPath,
    ferryArgs('local', '--data', dataDir, '--port', '0', '--regions', REGIONS.join(',')),
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  launched.supervisor = supervisor;
  supervisor.stdout.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  supervisor.stderr.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  const waitFor = async (pattern: RegExp, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(text);
      if (match) return match;
      if (supervisor.exitCode !== null || supervisor.signalCode !== null)
        assert.fail(`ferry local ended before printing ${pattern}:\n${text}`);
      if (Date.now() > deadline) assert.fail(`ferry local did not print ${pattern}:\n${text}`);
      await sleep(50);
    }
  };
  await waitFor(/Stop with Ctrl-C\./, 60_000);
  const token = /^Token \(valid 7 days, every region\): (\S+)$/m.exec(text)![1]!;
  const urls = new Map(
    REGIONS.map((name) => [name, new RegExp(`^\\s+${name}\\s+(http://\\S+)$`, 'm').exec(text)![1]!]),
  );
  return {
    process: supervisor,
    pid: supervisor.pid!,
    token,
    url: (region) => urls.get(region)!,
    output: () => text,
    waitFor,
    async regionPids() {
      const pids = new Map<string, number>();
      for (const entry of await childProcesses(supervisor.pid!)) {
        seen.add(entry.pid);
        const region = REGIONS.find((name) => entry.args.includes(name));
        assert.ok(region, `a child of the supervisor that is no region process: ${entry.args.join(' ')}`);
        assert.ok(!pids.has(region), `two processes for ${region}`);
        pids.set(region, entry.pid);
      }
      return pids;
    },
  };
}

async function stopWithSignal(supervisor: Supervisor, signal: NodeJS.Signals): Promise<number | null> {
  const exited = once(supervisor.process, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  supervisor.process.kill(signal);
  const [code] = await exited;
  return code;
}

test(
  'ferry local runs one process per region, restarts a region killed with SIGKILL on its port with its data, and stops them all on SIGINT',
  { skip: ownStackSkip() },
  async (t) => {
    const ferry = await startSupervisor(t);
    const pids = await ferry.regionPids();
    assert.deepEqual([...pids.keys()].sort(), REGIONS, 'one process per region, children of the supervisor');
    assert.equal(new Set(pids.values()).size, REGIONS.length, 'distinct processes');
    for (const region of REGIONS) {
      const port = portOf(ferry.url(region));
      assert.equal(
        await listeningPid(port, [ferry.pid, ...pids.values()]),
        pids.get(region),
        `${region}'s port`,
      );
      assert.match(
        ferry.output(),
        new RegExp(`${region} pid ${pids.get(region)}`),
        'the start banner names it',
      );
    }

    const north = ferry.url('north-1');
    const created = await api(north, ferry.token, 'POST', '/v2/images', {
      name: 'kept',
      disk_format: 'raw',
      container_format: 'bare',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const imageId = created.body.id as string;
    const data = Buffer.alloc(3 * 1024 * 1024 + 5, 7);
    assert.equal(
      (await api(north, ferry.token, 'PUT', `/v2/images/${imageId}/file`, data, OCTET)).status,
      204,
    );
    // Region-to-region calls reach the other process at the port the system chose for it.
    const started = await requestReplication(north, ferry.token, imageId, {
      region: 'south-1',
      agency_name: 'ferry_copy',
    });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    assert.equal((await waitForJob(north, ferry.token, started.body.job_id)).status, 'SUCCESS');

    const killed = pids.get('north-1')!;
    process.kill(killed, 'SIGKILL');
    await ferry.waitFor(
      new RegExp(`region north-1 \\(pid ${killed}\\) was killed by SIGKILL; restarting it`),
    );
    const restarted = await ferry.waitFor(/region north-1 restarted \(pid (\d+)\) on (\S+)/);
    const newPid = Number(restarted[1]);
    assert.equal(restarted[2], north, 'the same URL');
    assert.notEqual(newPid, killed);
    const after = await ferry.regionPids();
    assert.equal(after.get('north-1'), newPid, 'the new process is a child of the supervisor');
    assert.equal(after.get('south-1'), pids.get('south-1'), 'the other region kept running');
    assert.equal(await listeningPid(portOf(north), [newPid]), newPid, 'it serves the same port');
    const listed = await api(north, ferry.token, 'GET', '/v2/images');
    assert.equal(listed.status, 200, 'the same token still works');
    assert.deepEqual(
      listed.body.images.map((i: { id: string; status: string }) => [i.id, i.status]),
      [[imageId, 'active']],
      'the image made before the kill is still listed',
    );
    const download = await fetch(`${north}/v2/images/${imageId}/file`, {
      headers: { 'x-auth-token': ferry.token },
    });
    assert.ok(Buffer.from(await download.arrayBuffer()).equals(data), 'with its data');

    const code = await stopWithSignal(ferry, 'SIGINT');
    assert.equal(code, 0, ferry.output());
    assert.match(ferry.output(), /Stopping \(SIGINT\)/);
    for (const pid of [killed, newPid, pids.get('south-1')!])
      assert.equal(await isAlive(pid), false, `region process ${pid} is gone`);
  },
);

test(
  'region processes end when their supervisor is killed (SIGKILL)',
  { skip: ownStackSkip() },
  async (t) => {
    const ferry = await startSupervisor(t);
    const pids = [...(await ferry.regionPids()).values()];
    assert.equal(pids.length, REGIONS.length);
    await stopWithSignal(ferry, 'SIGKILL');
    for (const pid of pids) await eventually(async () => !(await isAlive(pid)), `region process ${pid} ends`);
  },
);

test(
  'a region that keeps failing at start is retried with growing delays, then given up on; the others run on',
  { skip: ownStackSkip() },
  async (t) => {
    const ferry = await startSupervisor(t);
    const north = ferry.url('north-1');
    const killed = (await ferry.regionPids()).get('north-1')!;
    process.kill(killed, 'SIGKILL');
    // Take the region's port as soon as its process has let go of it, so every restart fails to listen.
    let squatter: Server | undefined;
    t.after(() => squatter?.close());
    await eventually(async () => {
      const server = createServer();
      try {
        server.listen(portOf(north), '127.0.0.1');
        await once(server, 'listening');
        squatter = server;
        return true;
      } catch {
        return false;
      }
    }, 'the killed region lets go of its port');

    await ferry.waitFor(
      /region north-1 \(pid \d+\) exited with code 1; it ended within 10 s of starting 5 times in a row: not restarting it/,
      60_000,
    );
    const output = ferry.output();
    const restarts = [...output.matchAll(/region north-1 \(pid \d+\) .*; restarting it(?: in (\d+) ms)?$/gm)];
    // The first restart is at once if the killed region had run 10 s (a slow start), else after 250 ms.
    const delays = restarts.map((m) => Number(m[1] ?? 0)).filter((delay) => delay > 0);
    assert.deepEqual(delays, [250, 500, 1000, 2000], `each delay doubles:\n${output}`);
    assert.equal(
      output.match(/region north-1 could not start: .*EADDRINUSE/g)?.length,
      restarts.length,
      `every restart failed to listen:\n${output}`,
    );
    const health = await api(ferry.url('south-1'), undefined, 'GET', '/healthz');
    assert.equal(health.body.region, 'south-1', 'the other region still answers');
    assert.deepEqual([...(await ferry.regionPids()).keys()], ['south-1']);
    assert.equal(await stopWithSignal(ferry, 'SIGTERM'), 0, ferry.output());
  },
);
