/**
 * `npm run bench -- --only listing`: image list and show at 100,000 images, through the HTTP API of a
 * started region, on SQLite and (with FERRY_TEST_PG or `--pg URL`) on PostgreSQL; and how long garbage
 * collection, the scrub and job-list requests block the event loop at that scale.
 *
 *   npm run bench -- --only listing [--images N (default 100000)] [--projects N (default 1000)]
 *                    [--requests N (per query shape, default 300)] [--pg URL]
 *
 * Two databases per dialect: every image in one project (the viewer's), and the images spread over
 * `--projects` projects, a tenth public, three tenths shared with three member projects each (one in seven
 * of them pending), the rest private. Rows are inserted straight through the store's Kysely handle in
 * batches (a few seconds; the API would take minutes), with 256 small stored images as their data, so
 * garbage collection and the scrub have manifests and chunks to walk, and 10,000 finished jobs in the
 * viewer's project. Then each query shape is asked `--requests` times, one after another, by a client in
 * the same process as the region (its time is counted too), and p50/p99 printed. Event-loop delay is
 * `perf_hooks.monitorEventLoopDelay` at 10 ms resolution, its maximum over each task alone.
 * @module
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import pg from 'pg';
import { collectGarbage } from '../src/blobs/gc.js';
import { scrubChunkStore } from '../src/blobs/scrub.js';
import { completeImagesOf, gcRootsOf } from '../src/images/storage-maintenance.js';
import { loopbackCatalog } from '../src/config/catalog.js';
import type { Digest } from '../src/domain/ids.js';
import { issueToken } from '../src/identity/tokens.js';
import { startRegion, type RunningRegion } from '../src/region/start-region.js';
import { SYSTEM_CLOCK } from '../src/store/clock.js';
import { optimizeDatabase, type DatabaseConfig, type Db } from '../src/store/db.js';
import { insertAccount, insertProject, insertUser } from '../src/store/identity.js';
import type { ImageRow } from '../src/store/images.js';
import type { JobsTable } from '../src/store/schema.js';
import { fmt, markdownTable, median } from './lib.js';

/** The p99 the issue sets for list and show. */
const TARGET_P99_MS = 20;
/** The longest the event loop may be blocked by background work. */
const TARGET_LOOP_DELAY_MS = 50;
/** Rows per INSERT: well under SQLite's 32,766 bound parameters at 26 columns. */
const INSERT_BATCH = 500;
/** Distinct stored images the rows point at (GC and the scrub walk their manifests and chunks). */
const STORED_IMAGES = 256;
const STORED_IMAGE_BYTES = 64 * 1024;
const JOBS = 10_000;
const REGION = 'north-1';

interface ListingOptions {
  readonly images: number;
  readonly projects: number;
  readonly requests: number;
  readonly pgUrl: string | undefined;
}

/** Whether the command line asks for this bench (`--only listing`). */
export function isListingBench(argv: readonly string[]): boolean {
  const at = argv.indexOf('--only');
  return argv.includes('--only=listing') || (at >= 0 && argv[at + 1] === 'listing');
}

function parseListingOptions(argv: readonly string[]): ListingOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      only: { type: 'string' },
      images: { type: 'string', default: '100000' },
      projects: { type: 'string', default: '1000' },
      requests: { type: 'string', default: '300' },
      pg: { type: 'string' },
    },
    strict: true,
  });
  const positive = (name: 'images' | 'projects' | 'requests'): number => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
    return value;
  };
  return {
    images: positive('images'),
    projects: positive('projects'),
    requests: positive('requests'),
    pgUrl: values.pg ?? process.env.FERRY_TEST_PG,
  };
}

/** One filled database: the viewers' tokens and, per viewer, images it may see (markers, show). */
interface Filled {
  readonly viewers: Array<{ token: string; visibleIds: string[] }>;
}

interface Scenario {
  readonly name: string;
  readonly projects: number;
}

/** What the region of one scenario holds and who asks. */
async function fill(region: RunningRegion, scenario: Scenario, images: number): Promise<Filled> {
  const { db, chunks } = region.ctx;
  const clock = SYSTEM_CLOCK;
  const accountId = randomBytes(16).toString('hex');
  const userId = randomBytes(16).toString('hex');
  await insertAccount(db, clock, { id: accountId, name: 'bench' });
  await insertUser(db, clock, { id: userId, account_id: accountId, name: 'bench', is_admin: false });
  // A single-project scenario still has others to share its images with.
  const projectIds = Array.from({ length: Math.max(scenario.projects, 11) }, () =>
    randomBytes(16).toString('hex'),
  );
  for (const [i, id] of projectIds.entries()) {
    await insertProject(db, clock, { id, account_id: accountId, region: REGION, name: `p${i}` });
  }
  const owners = projectIds.slice(0, scenario.projects);

  const stored: Digest[] = [];
  for (let i = 0; i < STORED_IMAGES; i++) {
    const { digest } = await chunks.addChunk(randomBytes(STORED_IMAGE_BYTES));
    stored.push(
      await chunks.putManifest({ chunkSize: 1024 * 1024, size: STORED_IMAGE_BYTES, chunks: [digest] }),
    );
  }

  const epoch = Date.parse('2026-01-01T00:00:00Z');
  const visible = new Map<string, string[]>(owners.map((id) => [id, []]));
  const rows: ImageRow[] = [];
  const members: Array<{ image_id: string; member_id: string; status: string }> = [];
  const tags: Array<{ image_id: string; tag: string }> = [];
  for (let i = 0; i < images; i++) {
    const owner = owners[i % owners.length]!;
    const id = randomUUID();
    const kind = i % 10;
    const visibility = kind === 0 ? 'public' : kind <= 3 ? 'shared' : 'private';
    // Two images per second: ties on created_at, broken by id, as real bulk creations make.
    const at = new Date(epoch + Math.floor(i / 2) * 1000).toISOString();
    rows.push({
      id,
      owner,
      name: `image-${i % 5000}`,
      status: 'active',
      visibility,
      disk_format: i % 3 === 0 ? 'raw' : 'qcow2',
      container_format: 'bare',
      size: STORED_IMAGE_BYTES,
      virtual_size: STORED_IMAGE_BYTES,
      checksum: null,
      os_hash_algo: null,
      os_hash_value: null,
      manifest_digest: stored[i % stored.length]!,
      min_disk: 0,
      min_ram: 0,
      protected: 0,
      os_hidden: 0,
      image_type: 'data-disk',
      cmk_id: null,
      frozen: 0,
      created_at: at,
      updated_at: at,
      source_region: null,
      source_image_id: null,
      replication_job_id: null,
    });
    visible.get(owner)!.push(id);
    if (visibility === 'shared') {
      for (let m = 1; m <= 3; m++) {
        const member = projectIds[(projectIds.indexOf(owner) + m * 7) % projectIds.length]!;
        const status = (i + m) % 7 === 0 ? 'pending' : 'accepted';
        members.push({ image_id: id, member_id: member, status });
        if (status === 'accepted') visible.get(member)?.push(id);
      }
    }
    if (i % 100 === 0) tags.push({ image_id: id, tag: 'gold' });
  }
  const now = new Date().toISOString();
  await insertBatches(db, 'images', rows);
  await insertBatches(
    db,
    'image_members',
    members.map((m) => ({ ...m, created_at: now, updated_at: now })),
  );
  await insertBatches(db, 'image_tags', tags);
  await insertBatches(db, 'jobs', finishedJobs(accountId, userId, owners[0]!, rows));

  const viewers = await Promise.all(
    owners.slice(0, 20).map(async (projectId) => ({
      token: (await issueToken(db, clock, { userId, projectId })).secret,
      visibleIds: visible.get(projectId)!,
    })),
  );
  return { viewers };
}

async function insertBatches(
  db: Db,
  table: 'images' | 'image_members' | 'image_tags' | 'jobs',
  rows: readonly object[],
): Promise<void> {
  await db.transaction().execute(async (tx) => {
    for (let i = 0; i < rows.length; i += INSERT_BATCH) {
      await tx
        .insertInto(table)
        .values(rows.slice(i, i + INSERT_BATCH) as never)
        .execute();
    }
  });
}

/** Finished in-region copy jobs of the viewer's project (what a job list reads besides active jobs). */
function finishedJobs(accountId: string, userId: string, projectId: string, images: ImageRow[]): JobsTable[] {
  return Array.from({ length: JOBS }, (_, i): JobsTable => {
    const image = images[i % images.length]!;
    const at = new Date(Date.parse('2026-02-01T00:00:00Z') + i * 1000).toISOString();
    return {
      id: randomBytes(16).toString('hex'),
      job_type: 'imsCopyImageInRegionJob',
      role: 'local',
      status: 'SUCCESS',
      account_id: accountId,
      user_id: userId,
      source_region: REGION,
      source_image_id: image.id,
      source_image_name: image.name,
      dest_region: REGION,
      dest_project_id: projectId,
      project_id: projectId,
      dest_image_id: null,
      image_name: `copy-${i}`,
      description: '',
      agency_name: null,
      vault_id: null,
      disks: null,
      request_id: null,
      share_with: null,
      cmk_id: null,
      manifest_digest: image.manifest_digest,
      bytes_total: STORED_IMAGE_BYTES,
      bytes_transferred: 0,
      bytes_skipped_present: STORED_IMAGE_BYTES,
      bytes_skipped_zero: 0,
      bytes_per_second: 0,
      bandwidth_limit: null,
      current_task: 'done',
      error_code: null,
      fail_reason: null,
      grant_secret: null,
      attempts: 1,
      max_attempts: 10,
      run_at: at,
      locked_by: null,
      lease_until: null,
      cancel_requested: 0,
      begin_time: at,
      end_time: at,
      updated_at: at,
    };
  });
}

/** A query shape: the path of one request, given the viewer and a random image it may see. */
interface Shape {
  readonly name: string;
  readonly path: (visibleId: string) => string;
}

const SHAPES: readonly Shape[] = [
  { name: 'list (default: 25, created_at desc)', path: () => '/v2/images' },
  { name: 'list, next page at a marker', path: (id) => `/v2/images?marker=${id}` },
  {
    name: 'list limit=100 sort=name:asc at a marker',
    path: (id) => `/v2/images?limit=100&sort=name:asc&marker=${id}`,
  },
  { name: 'list name=image-123', path: () => '/v2/images?name=image-123' },
  { name: 'list visibility=shared', path: () => '/v2/images?visibility=shared' },
  { name: 'list tag=gold', path: () => '/v2/images?tag=gold' },
  { name: 'show', path: (id) => `/v2/images/${id}` },
];

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function timedGet(url: string, token: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(url, { headers: { 'x-auth-token': token } });
  await response.arrayBuffer();
  const ms = performance.now() - started;
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status}`);
  return ms;
}

/** p50 and p99 of each shape, `requests` times each, viewers in turn. */
async function measureShapes(
  region: RunningRegion,
  filled: Filled,
  requests: number,
): Promise<Array<{ shape: string; p50: number; p99: number }>> {
  const results = [];
  for (const shape of SHAPES) {
    const times: number[] = [];
    for (let i = 0; i < requests + 10; i++) {
      const viewer = filled.viewers[i % filled.viewers.length]!;
      const id = viewer.visibleIds[Math.floor(Math.random() * viewer.visibleIds.length)]!;
      const ms = await timedGet(`${region.url}${shape.path(id)}`, viewer.token);
      if (i >= 10) times.push(ms); // the first few warm the statement caches and connections
    }
    times.sort((a, b) => a - b);
    results.push({ shape: shape.name, p50: median(times), p99: percentile(times, 99) });
  }
  return results;
}

/** The longest the event loop was blocked while `task` ran, in ms, and how long the task took. */
async function loopDelayDuring(task: () => Promise<unknown>): Promise<{ maxMs: number; seconds: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  const started = performance.now();
  try {
    await task();
  } finally {
    histogram.disable();
  }
  return { maxMs: histogram.max / 1e6, seconds: (performance.now() - started) / 1000 };
}

async function measureBackground(
  region: RunningRegion,
  filled: Filled,
): Promise<Array<{ task: string; maxMs: number; seconds: number }>> {
  const { ctx } = region;
  const viewer = filled.viewers[0]!;
  return [
    {
      task: 'garbage collection',
      ...(await loopDelayDuring(() => collectGarbage(gcRootsOf(ctx.db), ctx.chunks, ctx.blobs))),
    },
    {
      task: 'scrub',
      ...(await loopDelayDuring(() => scrubChunkStore(completeImagesOf(ctx.db), ctx.chunks, ctx.blobs))),
    },
    {
      task: `job list x20 (100 of ${JOBS})`,
      ...(await loopDelayDuring(async () => {
        for (let i = 0; i < 20; i++) await timedGet(`${region.url}/v1/cloudimages/jobs`, viewer.token);
      })),
    },
  ];
}

/** A database of its own for one run: a SQLite file in `dir`, or a new PostgreSQL schema (dropped after). */
async function scratchDatabase(
  dialect: 'sqlite' | 'postgres',
  options: ListingOptions,
): Promise<{ database: DatabaseConfig | undefined; drop: () => Promise<void> }> {
  if (dialect === 'sqlite') return { database: undefined, drop: async () => {} };
  const url = options.pgUrl!;
  const schema = `bench_${randomBytes(6).toString('hex')}`;
  return {
    database: { kind: 'postgres', url, schema },
    drop: async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`drop schema if exists ${schema} cascade`);
      await client.end();
    },
  };
}

export async function benchListing(argv: readonly string[]): Promise<void> {
  const options = parseListingOptions(argv);
  const dialects: Array<'sqlite' | 'postgres'> = options.pgUrl ? ['sqlite', 'postgres'] : ['sqlite'];
  if (!options.pgUrl) console.log('PostgreSQL skipped: set FERRY_TEST_PG or pass --pg URL.');
  const scenarios: Scenario[] = [
    { name: `${options.images} images in one project`, projects: 1 },
    {
      name: `${options.images} images over ${options.projects} projects, shared`,
      projects: options.projects,
    },
  ];
  const shapeRows: string[][] = [];
  const loopRows: string[][] = [];
  let worstP99 = 0;
  let worstLoop = 0;
  for (const dialect of dialects) {
    for (const scenario of scenarios) {
      const dataDir = await mkdtemp(join(os.tmpdir(), 'ferry-listing-'));
      const { database, drop } = await scratchDatabase(dialect, options);
      let region: RunningRegion | undefined;
      try {
        region = await startRegion({
          name: REGION,
          // No credential: a region alone makes no region-to-region call.
          catalog: loopbackCatalog([REGION], [0], () => []),
          dataDir,
          ...(database ? { database } : {}),
          port: 0,
          limits: { gcIntervalMs: 0, scrubIntervalMs: 0 },
          replication: { runWorker: false },
        });
        const started = performance.now();
        const filled = await fill(region, scenario, options.images);
        // PostgreSQL's autovacuum would analyze the new rows within a minute; a SQLite region refreshes its
        // statistics at start and with each hourly garbage collection (store/db.ts optimizeDatabase): the
        // bench runs that step now rather than waiting an hour after the bulk insert.
        if (dialect === 'postgres') await sql`analyze`.execute(region.ctx.db);
        else await optimizeDatabase(region.ctx.db);
        console.log(
          `${dialect}, ${scenario.name}: filled in ${fmt((performance.now() - started) / 1000, 1)} s`,
        );
        for (const { shape, p50, p99 } of await measureShapes(region, filled, options.requests)) {
          worstP99 = Math.max(worstP99, p99);
          shapeRows.push([dialect, scenario.name, shape, fmt(p50, 2), fmt(p99, 2)]);
        }
        for (const { task, maxMs, seconds } of await measureBackground(region, filled)) {
          worstLoop = Math.max(worstLoop, maxMs);
          loopRows.push([dialect, scenario.name, task, fmt(seconds, 2), fmt(maxMs, 1)]);
        }
      } finally {
        await region?.close();
        await drop();
        await rm(dataDir, { recursive: true, force: true });
      }
    }
  }
  console.log(
    [
      '',
      `Image list and show, ${options.requests} requests per shape (ms):`,
      '',
      ...markdownTable(['db', 'data', 'query', 'p50', 'p99'], ['l', 'l', 'l', 'r', 'r'], shapeRows),
      '',
      'Event loop blocked during background work (monitorEventLoopDelay, 10 ms resolution):',
      '',
      ...markdownTable(
        ['db', 'data', 'task', 'took (s)', 'max delay (ms)'],
        ['l', 'l', 'l', 'r', 'r'],
        loopRows,
      ),
      '',
      `list/show p99 ≤ ${TARGET_P99_MS} ms: ${worstP99 <= TARGET_P99_MS ? 'met' : 'MISSED'} (worst ${fmt(worstP99, 2)} ms)`,
      `event loop delay ≤ ${TARGET_LOOP_DELAY_MS} ms: ${worstLoop <= TARGET_LOOP_DELAY_MS ? 'met' : 'MISSED'} (worst ${fmt(worstLoop, 1)} ms)`,
    ].join('\n'),
  );
}
