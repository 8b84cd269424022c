// Load (issue 22, point 6): 200 users in 20 accounts, each on a connection of its own (autocannon), list,
// show and download their account's images and submit replications, all at once, against regions run as
// `ferry serve` processes; beside them one user of each account sends more submissions than the limit at once.
// What must hold: no user ever has more unfinished replications than the per-user
// limit (sampled from the source region's database and from the job list the accounts see), a submission past
// it is refused 400 REPLICATION_LIMIT_REACHED, never a 5xx; no request fails, times out or answers a 5xx; every
// download is the uploaded bytes; the region processes' memory stays under a bound. p50/p99 latency and
// answers by status are recorded per kind of request. FERRY_LOAD_SECONDS sets how long the load lasts (default
// 15, the CI size); FERRY_LOAD_USERS_PER_ACCOUNT how many users each of the 20 accounts has (default 10).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import autocannon, { type Client, type Request } from 'autocannon';
import Database from 'better-sqlite3';
import { api } from '../helpers/deployment.js';
import { startRegionProcesses, type RegionProcesses } from '../helpers/region-processes.js';
import { recordReliability } from '../helpers/reliability.js';
import { stackDialect } from '../helpers/stack.js';
import { ACTIVE_JOB_STATUSES } from '../../src/domain/job.js';
import { provisionPopulation, type LoadUser, type PopulationShape } from './load-accounts.js';

const SOURCE = 'north-1';
const DESTINATION = 'south-1';
const AGENCY = 'ferry_copy';
const LOAD_SECONDS = Number(process.env.FERRY_LOAD_SECONDS ?? 15);
const SHAPE: PopulationShape = {
  accounts: 20,
  usersPerAccount: Number(process.env.FERRY_LOAD_USERS_PER_ACCOUNT ?? 10),
  imagesPerAccount: 3,
  imageBytes: 64 * 1024,
  source: SOURCE,
  destination: DESTINATION,
  agency: AGENCY,
};
/**
 * Peak resident memory allowed to a region process. The bench measured a region's peak at 163 MiB over a 2 GiB
 * upload (docs/architecture.md); 200 open connections and a queue of jobs add tens of MiB, not hundreds. 600 MiB
 * is generous for noise yet catches memory that grows with the requests served (a leak, an unbounded queue).
 */
const MAX_RSS_MIB = 600;
/**
 * A request with no answer for this long counts as a timeout (a failure). On 2 cores shared with other test
 * runs a request waits behind 199 others; 30 s is far past that wait, so only a request that hangs reaches it.
 */
const REQUEST_TIMEOUT_SECONDS = 30;
/** How often the region processes' memory and the users' unfinished jobs in the database are read. */
const SAMPLE_MS = 200;
/** How often each account's job list is read through the API during the load (each read costs the region). */
const JOB_LIST_SAMPLE_MS = 1_000;
/** The address of one client may hold 128 connections by default; here 200 users share 127.0.0.1. */
const SETTINGS = {
  limits: { maxConnectionsPerClient: 512 },
  replication: { pollMs: 100, retryBaseMs: 300 },
};
/**
 * A second after the load begins, one user of each account sends this many submissions beyond the limit at
 * once (on connections of their own, beside the load): one user's concurrent submissions must not pass the
 * limit together, and they reach it whatever the machine's pace (the load's own submissions, one at a time per
 * user, reach it only where a submission is quick enough).
 */
const BURST_BEYOND_LIMIT = 2;
const BURST_AFTER_MS = 1_000;
/** A submission over the limit, as docs/errors.md gives it: 400, IMS's IMG.0149 and Ferry's code. */
const LIMIT_REFUSAL = '400 IMG.0149 REPLICATION_LIMIT_REACHED';
const KINDS = ['list', 'show', 'download', 'submit'] as const;
type Kind = (typeof KINDS)[number];

interface KindStats {
  latencies: number[];
  byStatus: Map<number, number>;
  /** Answers whose body was not what the user should see (a wrong list, another image, other bytes). */
  wrongBodies: number;
  /** Error codes of refused submissions, by `status code`. */
  refusals: Map<string, number>;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
  return kib / 1024;
}

/** The largest count of one user's unfinished source jobs in a snapshot: user id -> count. */
function worst(counts: Map<string, number>): number {
  return Math.max(0, ...counts.values());
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are read as arbitrary JSON, as api() does
function parse(body: string): any {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

test('200 users listing, showing, downloading and replicating at once: the per-user replication limit holds, nothing fails, memory stays bounded', async (t) => {
  const p: RegionProcesses = await startRegionProcesses(t, [SOURCE, DESTINATION], SETTINGS);
  const setupStart = Date.now();
  const accounts = await provisionPopulation(p, SHAPE);
  const users: LoadUser[] = accounts.flatMap((a) => a.users);
  const setupSeconds = (Date.now() - setupStart) / 1000;
  const limits = await api(p.url(SOURCE), users[0]!.token, 'GET', '/v1/limits');
  const maxRunning: number = limits.body.max_running_replications_per_user;
  assert.ok(Number.isInteger(maxRunning) && maxRunning > 0, JSON.stringify(limits.body));

  // Memory of both region processes, and the users' unfinished replications in the source's database.
  const pids = { [SOURCE]: p.pid(SOURCE), [DESTINATION]: p.pid(DESTINATION) };
  const rss = { before: {} as Record<string, number>, peak: {} as Record<string, number> };
  for (const [region, pid] of Object.entries(pids)) rss.before[region] = rss.peak[region] = await rssMiB(pid);
  const sampleRss = async () => {
    for (const [region, pid] of Object.entries(pids))
      rss.peak[region] = Math.max(rss.peak[region]!, await rssMiB(pid));
  };
  // The database is read directly on SQLite (the embedded form this suite runs in); the job list through the
  // API is read on every stack.
  const db =
    stackDialect() === 'sqlite'
      ? new Database(join(p.dataDir, SOURCE, 'ferry.sqlite'), { readonly: true, fileMustExist: true })
      : undefined;
  t.after(() => db?.close());
  const activeByUser = db?.prepare(
    `select user_id, count(*) as n from jobs where role = 'source' and status in (${ACTIVE_JOB_STATUSES.map(() => '?').join(', ')}) group by user_id`,
  );
  let dbSnapshots = 0;
  let dbWorst = 0;
  const sampleDb = () => {
    if (!activeByUser) return;
    const rows = activeByUser.all(...ACTIVE_JOB_STATUSES) as Array<{ user_id: string; n: number }>;
    dbSnapshots++;
    dbWorst = Math.max(dbWorst, worst(new Map(rows.map((r) => [r.user_id, r.n]))));
  };
  // Each account's job list as its users see it; attributed to users once every submission's answer is in.
  const listSnapshots: Array<Array<{ job_id: string; status: string }>> = [];
  let listsTruncated = 0;
  const sampleJobLists = async () => {
    await Promise.all(
      accounts.map(async (account) => {
        const list = await api(
          p.url(SOURCE),
          account.users[0]!.token,
          'GET',
          '/v1/cloudimages/jobs?limit=1000',
        );
        assert.equal(list.status, 200, JSON.stringify(list.body));
        // A truncated list gives lower bounds: a user seen over the limit in it is over the limit.
        if (list.body.next !== undefined) listsTruncated++;
        listSnapshots.push(list.body.jobs);
      }),
    );
  };

  const stats = new Map<Kind, KindStats>(
    KINDS.map((kind) => [kind, { latencies: [], byStatus: new Map(), wrongBodies: 0, refusals: new Map() }]),
  );
  const jobOwner = new Map<string, string>();
  let nextUser = 0;
  const requestsOf = (user: LoadUser, onKind: (kind: Kind) => void): Request[] => {
    const headers = { 'x-auth-token': user.token, 'content-type': 'application/json' };
    const { images } = user.account;
    const shown = images[0]!;
    const replicated = images[user.account.users.indexOf(user) % images.length]!;
    const request = (
      kind: Kind,
      method: Request['method'],
      path: string,
      check: (status: number, body: string) => void,
      body?: string,
    ): Request => ({
      method,
      path,
      headers,
      ...(body !== undefined ? { body } : {}),
      onResponse: (status, answer) => {
        onKind(kind);
        check(status, answer);
      },
    });
    const wrong = (kind: Kind) => stats.get(kind)!.wrongBodies++;
    return [
      request('list', 'GET', '/v2/images', (status, body) => {
        const ids = (parse(body)?.images ?? []).map((i: { id: string }) => i.id).sort();
        if (
          status === 200 &&
          ids.join() !==
            images
              .map((i) => i.id)
              .sort()
              .join()
        )
          wrong('list');
      }),
      request('show', 'GET', `/v2/images/${shown.id}`, (status, body) => {
        if (status === 200 && parse(body)?.id !== shown.id) wrong('show');
      }),
      request('download', 'GET', `/v2/images/${shown.id}/file`, (status, body) => {
        if (status === 200 && body !== shown.data.toString('latin1')) wrong('download');
      }),
      request(
        'submit',
        'POST',
        `/v1/cloudimages/${replicated.id}/cross_region_copy`,
        (status, body) => {
          const answer = parse(body);
          if (status === 200) {
            if (typeof answer?.job_id === 'string') jobOwner.set(answer.job_id, user.userId);
            else wrong('submit');
          } else {
            // The IMS-shaped answer: IMS's code, and Ferry's beside it (docs/errors.md).
            const key = `${status} ${answer?.error?.code} ${answer?.error?.ferry_code}`;
            const refusals = stats.get('submit')!.refusals;
            refusals.set(key, (refusals.get(key) ?? 0) + 1);
          }
        },
        JSON.stringify({ region: DESTINATION, agency_name: AGENCY }),
      ),
    ];
  };
  const setupClient = (client: Client) => {
    const user = users[nextUser++ % users.length]!;
    let kind: Kind = 'list';
    client.setRequests(requestsOf(user, (k) => (kind = k)));
    // 'response' follows the request's onResponse synchronously: `kind` is the answer's own.
    client.on('response', (status: number, _bytes: number, duration: number) => {
      const s = stats.get(kind)!;
      s.latencies.push(duration);
      s.byStatus.set(status, (s.byStatus.get(status) ?? 0) + 1);
    });
  };

  const rssTimer = setInterval(() => {
    sampleRss().catch(() => undefined);
    sampleDb();
  }, SAMPLE_MS);
  let listing = true;
  const listLoop = (async () => {
    while (listing) {
      await sampleJobLists();
      await new Promise((resolve) => setTimeout(resolve, JOB_LIST_SAMPLE_MS));
    }
  })();
  // The burst: per user, how many of its submissions sent at once were accepted, and each refusal's code.
  const burstUsers = accounts.map((account) => account.users[0]!);
  const burstAnswers = new Map<string, { accepted: number; refusals: string[] }>();
  const burst = (async () => {
    await new Promise((resolve) => setTimeout(resolve, BURST_AFTER_MS));
    await Promise.all(
      burstUsers.map(async (user) => {
        const image = user.account.images[0]!;
        const answers = await Promise.all(
          Array.from({ length: maxRunning + BURST_BEYOND_LIMIT }, () =>
            api(p.url(SOURCE), user.token, 'POST', `/v1/cloudimages/${image.id}/cross_region_copy`, {
              region: DESTINATION,
              agency_name: AGENCY,
            }),
          ),
        );
        const mine = { accepted: 0, refusals: [] as string[] };
        for (const answer of answers) {
          if (answer.status === 200 && typeof answer.body.job_id === 'string') {
            mine.accepted++;
            jobOwner.set(answer.body.job_id, user.userId);
          } else {
            mine.refusals.push(
              `${answer.status} ${answer.body?.error?.code} ${answer.body?.error?.ferry_code}`,
            );
          }
        }
        burstAnswers.set(user.userId, mine);
      }),
    );
  })();
  let result: autocannon.Result;
  try {
    result = await autocannon({
      url: p.url(SOURCE),
      connections: users.length,
      duration: LOAD_SECONDS,
      timeout: REQUEST_TIMEOUT_SECONDS,
      setupClient,
    });
  } finally {
    clearInterval(rssTimer);
    listing = false;
  }
  await listLoop;
  await burst;
  // After: the last answers are in; one more look at the jobs, and at memory once the load is gone.
  sampleDb();
  await sampleJobLists();
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  await sampleRss();
  const rssAfter: Record<string, number> = {};
  for (const [region, pid] of Object.entries(pids)) rssAfter[region] = await rssMiB(pid);

  let listWorst = 0;
  let unattributed = 0;
  for (const snapshot of listSnapshots) {
    const counts = new Map<string, number>();
    for (const job of snapshot) {
      if (!(ACTIVE_JOB_STATUSES as readonly string[]).includes(job.status)) continue;
      const owner = jobOwner.get(job.job_id);
      if (owner === undefined) unattributed++;
      else counts.set(owner, (counts.get(owner) ?? 0) + 1);
    }
    listWorst = Math.max(listWorst, worst(counts));
  }

  const summary = Object.fromEntries(
    KINDS.map((kind) => {
      const s = stats.get(kind)!;
      const sorted = [...s.latencies].sort((a, b) => a - b);
      return [
        kind,
        {
          requests: s.latencies.length,
          p50_ms: Math.round(percentile(sorted, 50)),
          p99_ms: Math.round(percentile(sorted, 99)),
          by_status: Object.fromEntries(s.byStatus),
          wrong_bodies: s.wrongBodies,
          refusals: Object.fromEntries(s.refusals),
        },
      ];
    }),
  );
  const figures = {
    users: users.length,
    seconds: LOAD_SECONDS,
    setup_seconds: Math.round(setupSeconds),
    errors: result.errors,
    timeouts: result.timeouts,
    max_running_per_user: maxRunning,
    worst_running_per_user_db: dbWorst,
    worst_running_per_user_api: listWorst,
    db_snapshots: dbSnapshots,
    job_list_snapshots: listSnapshots.length,
    job_lists_truncated: listsTruncated,
    jobs_accepted: jobOwner.size,
    jobs_listed_unattributed: unattributed,
    rss_mib: { before: rss.before, peak: rss.peak, after: rssAfter },
    ...summary,
  };
  t.diagnostic(JSON.stringify(figures));

  assert.equal(result.errors, 0, 'no connection errors');
  assert.equal(result.timeouts, 0, `no request unanswered for ${REQUEST_TIMEOUT_SECONDS} s`);
  for (const kind of KINDS) {
    const s = summary[kind]!;
    assert.ok(s.requests > 0, `${kind}: some requests were answered`);
    assert.equal(s.wrong_bodies, 0, `${kind}: every answer shows the user's own images and bytes`);
    const fivexx = [...stats.get(kind)!.byStatus].filter(([status]) => status >= 500);
    assert.deepEqual(fivexx, [], `${kind}: no 5xx`);
  }
  for (const kind of ['list', 'show', 'download'] as const) {
    assert.deepEqual(Object.keys(summary[kind]!.by_status), ['200'], `${kind}: every answer 200`);
  }
  // The limit first: a broken limit also changes the answers below, but this is the property itself.
  assert.ok(listSnapshots.length > accounts.length, 'the job lists were read during the load');
  assert.ok(
    listWorst <= maxRunning,
    `a user had ${listWorst} unfinished replications in a job list, over the limit of ${maxRunning}`,
  );
  if (db) {
    assert.ok(dbSnapshots > 10, 'the database was sampled during the load');
    assert.ok(
      dbWorst <= maxRunning,
      `a user had ${dbWorst} unfinished replications at once, over the limit of ${maxRunning}`,
    );
  }
  // A user's submissions sent at once: no more accepted than the limit, the rest refused at the limit.
  assert.equal(burstAnswers.size, burstUsers.length, 'every burst was answered');
  for (const [userId, { accepted, refusals: refused }] of burstAnswers) {
    assert.ok(
      accepted <= maxRunning,
      `user ${userId} sent ${maxRunning + BURST_BEYOND_LIMIT} submissions at once and ${accepted} were accepted, over the limit of ${maxRunning}`,
    );
    assert.deepEqual(new Set(refused), new Set([LIMIT_REFUSAL]), `user ${userId}: ${refused.join(', ')}`);
  }
  // Submissions: accepted, or refused at the limit with its documented code (docs/errors.md), nothing else.
  const refusals = stats.get('submit')!.refusals;
  assert.deepEqual(
    [...refusals.keys()].filter((key) => key !== LIMIT_REFUSAL),
    [],
    JSON.stringify(summary.submit),
  );
  assert.ok(jobOwner.size > 0, 'some replications were accepted');
  const burstRefused = [...burstAnswers.values()].reduce((n, b) => n + b.refusals.length, 0);
  const burstAccepted = [...burstAnswers.values()].reduce((n, b) => n + b.accepted, 0);
  for (const region of [SOURCE, DESTINATION]) {
    assert.ok(rss.peak[region]! < MAX_RSS_MIB, `${region}: peak RSS ${rss.peak[region]} MiB`);
  }

  const mib = (n: number | undefined) => Math.round(n ?? NaN);
  await recordReliability({
    class: 'load',
    subject: `${users.length} users in ${accounts.length} accounts on one connection each (autocannon) listing, showing, downloading (${SHAPE.imageBytes / 1024} KiB) and submitting replications ${SOURCE} -> ${DESTINATION} at once, regions as ferry serve processes`,
    tried: `${LOAD_SECONDS} s of load: ${KINDS.map((k) => `${k} ${summary[k]!.requests}`).join(', ')} requests; ${jobOwner.size} replications accepted, ${refusals.get(LIMIT_REFUSAL) ?? 0} refused at the limit; ${burstUsers.length} users each sending ${maxRunning + BURST_BEYOND_LIMIT} submissions at once (${burstAccepted} accepted, ${burstRefused} refused); ${dbSnapshots} database and ${listSnapshots.length} job-list snapshots of each user's unfinished replications`,
    held: `no user over ${maxRunning} unfinished replications (worst seen ${Math.max(dbWorst, listWorst)}), none of a burst accepted beyond the limit; every refusal 400 REPLICATION_LIMIT_REACHED; 0 errors, 0 timeouts, 0 5xx; every list, show and download 200 with the user's own images and bytes; peak RSS ${mib(rss.peak[SOURCE])}/${mib(rss.peak[DESTINATION])} MiB (${SOURCE}/${DESTINATION}) under ${MAX_RSS_MIB}`,
    figures: {
      ...Object.fromEntries(
        KINDS.flatMap((k) => [
          [`p50_ms_${k}`, summary[k]!.p50_ms],
          [`p99_ms_${k}`, summary[k]!.p99_ms],
          [`requests_${k}`, summary[k]!.requests],
        ]),
      ),
      jobs_accepted: jobOwner.size,
      jobs_refused: refusals.get(LIMIT_REFUSAL) ?? 0,
      burst_accepted: burstAccepted,
      burst_refused: burstRefused,
      worst_running_per_user: Math.max(dbWorst, listWorst),
      max_running_per_user: maxRunning,
      errors: result.errors,
      timeouts: result.timeouts,
      rss_before_mib: mib(rss.before[SOURCE]),
      peak_rss_mib: mib(Math.max(rss.peak[SOURCE]!, rss.peak[DESTINATION]!)),
      rss_after_mib: mib(rssAfter[SOURCE]),
    },
    file: 'test/reliability/load.test.ts',
  });
});
