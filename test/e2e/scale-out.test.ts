// A scale-out deployment (issue 21): each region runs two API processes (`ferry serve --api-only`) and three
// workers (`ferry worker`) over its own PostgreSQL schema and one S3 bucket (the real Swift s3api server of
// scripts/start-test-s3.sh), all started at once. Images uploaded through either API process replicate while
// a destination worker is killed with SIGKILL every 3 s (and a new one started): every job ends SUCCESS with a
// byte-identical image, read through the other API process; after a claim by a killed worker no other worker
// ran the job before its lease lapsed (the workers' claim lines); takeovers are logged and counted in
// /metrics; collections with no grace run in API processes meanwhile and lose no chunk. CI runs 6 images;
// FERRY_SCALE_OUT_IMAGES=20 is the run. Needs FERRY_TEST_PG and FERRY_TEST_S3.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { loopbackCatalog } from '../../src/config/catalog.js';
import { ensureRegionCredentials } from '../../src/config/region-credential.js';
import { openDatabase } from '../../src/store/db.js';
import { testPostgresUrl } from '../helpers/db.js';
import { api } from '../helpers/deployment.js';
import { ferryArgs } from '../helpers/ferry-command.js';
import { freePort, provisionProcessIdentities } from '../helpers/region-processes.js';
import { pseudoRandom, requestReplication, uploadImage, waitForJob } from '../helpers/replication.js';
import { emptyS3Prefix, freshS3Prefix, s3Skip, testS3Settings } from '../helpers/s3.js';
import { makeTempDir } from '../helpers/tmp.js';
import { ownStackSkip } from '../helpers/stack.js';

const MiB = 1024 * 1024;
const REGIONS = ['north-1', 'south-1'];
/** Images per run (CI: 6); FERRY_SCALE_OUT_IMAGES=20 for the full run. */
const IMAGES = Number(process.env.FERRY_SCALE_OUT_IMAGES ?? 6);
// Its own PostgreSQL and S3 set-up, in every configuration: it runs in the embedded one only.
const skip =
  ownStackSkip() || s3Skip() || (testPostgresUrl() ? false : 'FERRY_TEST_PG is unset (outside CI)');

interface Process {
  child: ChildProcess;
  url: string;
  log: string;
}

test(
  'two API processes and three workers per region on PostgreSQL and S3: replications survive workers killed with SIGKILL',
  { skip, timeout: 240_000 },
  async (t: TestContext) => {
    const url = testPostgresUrl()!;
    const s3 = testS3Settings()!;
    const prefix = freshS3Prefix();
    const schemaOf = (region: string) => `t_${suffix}_${region.replace('-', '_')}`;
    const suffix = randomBytes(4).toString('hex');
    const processes: Process[] = [];
    // Hooks run in the order they are added: processes stop, then the schemas and the prefix go.
    t.after(async () => {
      await Promise.all(
        processes
          .filter((p) => p.child.exitCode === null && p.child.signalCode === null)
          .map(async (p) => {
            const exited = once(p.child, 'exit');
            p.child.kill('SIGKILL');
            await exited;
          }),
      );
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      for (const region of REGIONS) await client.query(`drop schema if exists ${schemaOf(region)} cascade`);
      await client.end();
      await emptyS3Prefix(s3, prefix);
    });
    const dataDir = await makeTempDir(t);
    const apiPorts = [await freePort(), await freePort()];
    const catalog = loopbackCatalog(
      REGIONS,
      apiPorts,
      await ensureRegionCredentials(dataDir, REGIONS),
      'http',
    );
    const catalogFile = join(dataDir, 'catalog.json');
    await writeFile(catalogFile, JSON.stringify(catalog));
    const settingsFile = join(dataDir, 'settings.json');
    await writeFile(
      settingsFile,
      JSON.stringify({
        storage: { blobStore: 's3', s3: { ...s3, prefix } },
        replication: { pollMs: 100, retryBaseMs: 100, leaseMs: 3000, parallelFetches: 2 },
      }),
    );
    const dbs = [];
    for (const region of REGIONS) {
      dbs.push({
        region,
        db: await openDatabase({ kind: 'postgres', url, schema: schemaOf(region), maxConnections: 2 }),
      });
    }
    const { demo, admin } = await provisionProcessIdentities(dbs);

    let launched = 0; // names each process's log: several start at once
    /** Starts `ferry serve --api-only` or `ferry worker` for `region`; resolves once it listens. */
    const start = async (region: string, command: 'api' | 'worker', port: number): Promise<Process> => {
      const args = command === 'api' ? ['serve', '--api-only'] : ['worker'];
      const log = join(dataDir, `${region}-${command}-${(launched += 1)}.log`);
      const child = spawn(
        process.execPath,
        ferryArgs(
          ...args,
          ...['--region', region, '--catalog', catalogFile, '--data', dataDir, '--port', String(port)],
          ...['--database', url, '--database-schema', schemaOf(region), '--settings', settingsFile],
        ),
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      // JSON log lines on stdout (read below); stderr apart, so no line of one is cut by the other.
      child.stdout!.pipe(createWriteStream(log));
      const err = createWriteStream(`${log}.stderr`);
      let stderr = '';
      const listening = await new Promise<string>((resolve, reject) => {
        child.stderr!.setEncoding('utf8').on('data', (text: string) => {
          stderr += text;
          err.write(text);
          const match = /listening on (\S+)/.exec(stderr);
          if (match) resolve(match[1]!);
        });
        child.once('exit', (code) => reject(new Error(`${command} of ${region} exited ${code}: ${stderr}`)));
      });
      const started = { child, url: listening, log };
      processes.push(started);
      return started;
    };
    // Every process of a region starts at once: their migrations must not collide (an advisory lock).
    const regions = await Promise.all(
      REGIONS.map(async (region, i) => {
        const [api, api2, ...workers] = await Promise.all([
          start(region, 'api', apiPorts[i]!),
          start(region, 'api', 0),
          start(region, 'worker', 0),
          start(region, 'worker', 0),
          start(region, 'worker', 0),
        ]);
        return { api: api!, api2: api2!, workers };
      }),
    );
    const [north, south] = regions as [(typeof regions)[0], (typeof regions)[0]];
    const token = demo.token;

    // Uploads through either API process of north-1 (no process keeps state of its own).
    const images = new Map<string, Buffer>();
    for (let i = 0; i < IMAGES; i++) {
      const data = pseudoRandom(6 * MiB + i * 4096, 101 + 2 * i);
      const via = i % 2 === 0 ? north.api : north.api2;
      images.set(await uploadImage({ url: () => via.url }, token, 'north-1', data, { name: `s-${i}` }), data);
    }
    // Submissions wait for a slot: a user runs at most 5 replications at once (IMG.0149 otherwise).
    const submit = async (id: string): Promise<string> => {
      for (;;) {
        const answer = await requestReplication(north.api.url, token, id, {
          region: 'south-1',
          agency_name: 'ferry_copy',
          bandwidth_limit: 2 * MiB, // each job runs a few seconds: kills land in the middle of transfers
        });
        if (answer.status === 200) return answer.body.job_id as string;
        assert.equal(answer.body.error.ferry_code, 'REPLICATION_LIMIT_REACHED', JSON.stringify(answer.body));
        await sleep(500);
      }
    };
    // Every 3 s a destination worker is killed with SIGKILL and a new one started in its place.
    const killed: Process[] = [];
    let killing = true;
    const killer = (async () => {
      for (let n = 0; killing; n++) {
        await sleep(3000);
        if (!killing) break;
        // A collection with no grace in an API process of each region, while workers elsewhere store chunks.
        for (const region of [north, south]) {
          const gc = await api(region.api2.url, admin.token, 'POST', '/v1/admin/gc', { grace_seconds: 0 });
          assert.equal(gc.status, 200, JSON.stringify(gc.body));
        }
        const victim = south.workers[n % 3]!;
        const exited = once(victim.child, 'exit');
        victim.child.kill('SIGKILL');
        await exited;
        killed.push(victim);
        south.workers[n % 3] = await start('south-1', 'worker', 0);
      }
    })();
    const jobs: string[] = [];
    try {
      for (const id of images.keys()) jobs.push(await submit(id));
      for (const [i, jobId] of jobs.entries()) {
        const job = await waitForJob(north.api2.url, token, jobId, 180_000);
        assert.equal(job.status, 'SUCCESS', JSON.stringify(job));
        const data = [...images.values()][i]!;
        const download = await fetch(`${south.api2.url}/v2/images/${job.entities.image_id}/file`, {
          headers: { 'x-auth-token': token },
        });
        assert.equal(download.status, 200);
        assert.ok(Buffer.from(await download.arrayBuffer()).equals(data), `image ${i} byte-identical`);
      }
    } finally {
      killing = false;
      await killer;
    }
    assert.ok(killed.length >= 1, 'a worker was killed during the transfers');

    // The claims: each worker logs `replication run starts` with the job. After a claim by a worker that was
    // killed, no other worker ran the job before that worker's lease (3 s) could lapse.
    const workers = processes.filter((p) => p.log.includes('-worker-') && p.log.startsWith(dataDir));
    const claims: Array<{ job: string; worker: Process; time: number }> = [];
    let takeovers = 0;
    const runRequestIds = new Map<string, Array<string | undefined>>();
    for (const worker of workers.filter((w) => w.log.includes('south-1'))) {
      for (const line of (await readFile(worker.log, 'utf8')).split('\n')) {
        if (line.includes('taken over from a worker whose lease lapsed')) takeovers += 1;
        if (!line.includes('replication run starts')) continue;
        const entry = JSON.parse(line) as { job: string; time: number; reqId?: string };
        claims.push({ job: entry.job, worker, time: entry.time });
        runRequestIds.set(entry.job, [...(runRequestIds.get(entry.job) ?? []), entry.reqId]);
      }
    }
    const claimsOfKilled = claims.filter((c) => killed.includes(c.worker));
    assert.ok(claimsOfKilled.length > 0, 'the killed workers had claimed jobs');
    for (const claim of claimsOfKilled) {
      for (const other of claims.filter((c) => c.job === claim.job && c.worker !== claim.worker)) {
        if (other.time <= claim.time) continue;
        assert.ok(other.time - claim.time >= 2_500, 'taken over only once the killed worker’s lease lapsed');
      }
    }
    assert.ok(takeovers >= 1, 'jobs of killed workers were taken over');
    // Every run of a job, in whichever worker, is logged under the request ID that started the job.
    for (const [i, jobId] of jobs.entries()) {
      const requestId = (await api(north.api2.url, token, 'GET', `/v1/cloudimages/job/${jobId}`)).body
        .request_id;
      assert.match(requestId, /^req-/);
      const runs = runRequestIds.get(jobId) ?? [];
      assert.ok(runs.length >= 1, `job ${i} ran`);
      assert.deepEqual(new Set(runs), new Set([requestId]), `job ${i}'s runs carry its request ID`);
    }
    const metrics = await fetch(`${south.workers[1]!.url}/metrics`, {
      headers: { authorization: `Bearer ${admin.token}` },
    });
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /^ferry_job_lease_takeovers_total\{/m);
    // A worker serves no API route.
    const notApi = await fetch(`${south.workers[1]!.url}/v2/images`, { headers: { 'x-auth-token': token } });
    assert.equal(notApi.status, 404);
  },
);
