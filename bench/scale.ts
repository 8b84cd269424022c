/**
 * The scale-out bench (`npm run bench -- --only scale`, issue 21): the same work on the embedded stack and on
 * PostgreSQL + S3, and with 1, 2 and 4 worker processes per region, each beside the run's baselines.
 *
 * The work: four distinct random images of a quarter of `--size-gib` each are uploaded to north-1 one after
 * the other (timed together), then replicated to south-1 in one request, four jobs at once (timed from the
 * POST until every job reads SUCCESS; each replica's checksum is checked). The configurations:
 *
 * - embedded: each region one `ferry serve` on SQLite and a blob folder (what `ferry local` runs);
 * - PostgreSQL + S3: each region one `ferry serve` on a PostgreSQL schema and the S3 server;
 * - PostgreSQL + S3 with N workers: each region one `ferry serve --api-only` and N `ferry worker`s.
 *
 * Baselines, measured in the same run: the durable `cp` + `sync` of the same bytes before every
 * configuration (its median over the run is the denominator), and the same bytes put straight into the bucket
 * through the AWS SDK, as one object and as 1 MiB objects 32 at once (the layout and parallelism of the S3
 * driver: what the S3 server allows Ferry at most), before every PostgreSQL + S3 configuration. PostgreSQL and the S3 server are FERRY_BENCH_PG / FERRY_BENCH_S3 (else FERRY_TEST_PG /
 * FERRY_TEST_S3), else the ones `scripts/start-test-postgres.sh` and `scripts/start-test-s3.sh` start (after
 * `scripts/install-deps.sh`); without them those rows say why they are missing. Each configuration's schemas
 * and objects are removed after it.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  apiJson,
  checkImage,
  createImage,
  fmt,
  generateRandomFile,
  interrupted,
  machineLine,
  markdownTable,
  median,
  MiB,
  REPO_ROOT,
  removeOnCleanup,
  run,
  seconds,
  uploadFile,
  type BenchContext,
} from './lib.js';
import { AGENCY, DEST, SOURCE, startRegions, stopRegions, type Region } from './regions.js';

const IMAGES = 4;
/** PUTs in flight in the 1 MiB baseline: the S3 driver's default (storage.s3.maxParallelism). */
const S3_PARALLELISM = 32;
const JOB_POLL_MS = 200;
const JOB_TIMEOUT_MS = 30 * 60 * 1000;

interface S3Server {
  endpoint: string;
  bucket: string;
  region?: string;
  forcePathStyle?: boolean;
  accessKeyId?: string;
  secretAccessKey?: string;
}

interface Stack {
  pg: string;
  s3: S3Server;
}

interface Configuration {
  readonly name: string;
  readonly processes: string;
  readonly stack: 'embedded' | 'postgres-s3';
  readonly workers?: number;
}

const CONFIGURATIONS: readonly Configuration[] = [
  { name: 'embedded (SQLite + folder)', processes: '1 serve', stack: 'embedded' },
  { name: 'PostgreSQL + S3', processes: '1 serve', stack: 'postgres-s3' },
  { name: 'PostgreSQL + S3', processes: '1 API + 1 worker', stack: 'postgres-s3', workers: 1 },
  { name: 'PostgreSQL + S3', processes: '1 API + 2 workers', stack: 'postgres-s3', workers: 2 },
  { name: 'PostgreSQL + S3', processes: '1 API + 4 workers', stack: 'postgres-s3', workers: 4 },
];

interface Row {
  readonly configuration: Configuration;
  readonly uploadSeconds?: number;
  readonly replicationSeconds?: number;
  readonly cpSeconds: number;
  readonly s3PutSeconds?: number;
  /** The same bytes as 1 MiB objects, S3_PARALLELISM at once: the layout the S3 driver writes. */
  readonly s3ChunkPutSeconds?: number;
  readonly missing?: string;
}

/** PostgreSQL and S3 from the environment, else started by the project's scripts; or why not. */
async function findStack(): Promise<Stack | string> {
  const script = async (name: string) =>
    (await run('bash', [join(REPO_ROOT, 'scripts', name)], { cwd: REPO_ROOT })).stdout.trim();
  try {
    const pg =
      process.env.FERRY_BENCH_PG ?? process.env.FERRY_TEST_PG ?? (await script('start-test-postgres.sh'));
    const s3 = process.env.FERRY_BENCH_S3 ?? process.env.FERRY_TEST_S3 ?? (await script('start-test-s3.sh'));
    return { pg, s3: JSON.parse(s3) as S3Server };
  } catch (error) {
    return `PostgreSQL or the S3 server could not be started (${(error as Error).message.split('\n')[0]}): run scripts/install-deps.sh, or set FERRY_BENCH_PG and FERRY_BENCH_S3`;
  }
}

/**
 * One PUT of `file` into the bucket under `key` through the AWS SDK (as the region's driver makes its
 * requests), timed in a child process; its seconds.
 */
async function s3Put(s3: S3Server, key: string, file: string): Promise<number> {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), PUT_COMMAND, JSON.stringify(s3), key, file],
    { cwd: REPO_ROOT, signal: interrupted.signal },
  );
  return Number(stdout.trim());
}

/** Removes what a configuration left: its PostgreSQL schemas and its objects (a child process: see regions.ts). */
async function dropStack(stack: Stack, schemas: string[], prefix: string): Promise<void> {
  await run(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      DROP_COMMAND,
      stack.pg,
      JSON.stringify(stack.s3),
      prefix,
      ...schemas,
    ],
    { cwd: REPO_ROOT },
  );
}

async function waitForJobs(north: Region, jobIds: string[]): Promise<Array<Record<string, unknown>>> {
  const deadline = performance.now() + JOB_TIMEOUT_MS;
  for (;;) {
    const jobs = await Promise.all(
      jobIds.map(async (id) => (await apiJson(north.endpoint, 'GET', `/v1/cloudimages/job/${id}`)).body),
    );
    const failed = jobs.find((job) => ['FAIL', 'CANCELLED'].includes(String(job.status)));
    if (failed) throw new Error(`a job ended ${String(failed.status)}: ${String(failed.fail_reason)}`);
    if (jobs.every((job) => job.status === 'SUCCESS')) return jobs;
    if (performance.now() > deadline) throw new Error('the jobs did not end in 30 minutes');
    await new Promise((resolve) => setTimeout(resolve, JOB_POLL_MS));
  }
}

async function runConfiguration(
  ctx: BenchContext,
  configuration: Configuration,
  stack: Stack | undefined,
  files: Array<{ file: string; md5: string; size: number }>,
): Promise<{ uploadSeconds: number; replicationSeconds: number }> {
  const tag = randomBytes(4).toString('hex');
  const dataDir = join(ctx.scratch, `scale-${tag}`);
  await mkdir(dataDir);
  const removeData = removeOnCleanup(ctx.cleanup, dataDir);
  const schemas = [SOURCE, DEST].map((region) => `bench_${tag}_${region.replace('-', '_')}`);
  const prefix = `bench/${tag}/`;
  const onS3 = configuration.stack === 'postgres-s3' && stack !== undefined;
  const regions = await startRegions({
    dataDir,
    cleanup: ctx.cleanup,
    settings: onS3 ? { storage: { blobStore: 's3', s3: { ...stack.s3, prefix } } } : {},
    ...(onS3
      ? { database: (region: string) => ({ url: stack.pg, schema: schemas[region === SOURCE ? 0 : 1]! }) }
      : {}),
    ...(configuration.workers !== undefined ? { workers: configuration.workers } : {}),
  });
  try {
    const north = regions[0]!;
    const ids: string[] = [];
    const uploadStarted = performance.now();
    for (const [i, image] of files.entries()) {
      const id = await createImage(north.endpoint, `scale-${i + 1}`);
      await uploadFile(north.endpoint, id, image.file);
      ids.push(id);
    }
    const uploadSeconds = seconds(uploadStarted);
    for (const [i, image] of files.entries())
      await checkImage(north.endpoint, ids[i]!, image.size, image.md5);

    const replicationStarted = performance.now();
    const started = await apiJson(north.endpoint, 'POST', '/v1/cloudimages/cross_region_copy', {
      image_ids: ids,
      region: DEST,
      agency_name: AGENCY,
    });
    const jobs = (started.body.jobs as Array<{ job_id: string; image_id: string }> | undefined) ?? [];
    if (started.status !== 200 || jobs.length !== files.length) {
      throw new Error(`cross_region_copy answered ${started.status}: ${JSON.stringify(started.body)}`);
    }
    const ended = await waitForJobs(
      north,
      jobs.map((job) => job.job_id),
    );
    const replicationSeconds = seconds(replicationStarted);
    for (const job of ended) {
      const i = ids.indexOf(String(job.source_image_id));
      await checkImage(regions[1]!.endpoint, String(job.dest_image_id), files[i]!.size, files[i]!.md5);
    }
    return { uploadSeconds, replicationSeconds };
  } finally {
    await stopRegions(regions);
    if (onS3) await dropStack(stack, schemas, prefix);
    await removeData();
  }
}

/** Disk the scale bench needs beside the generated file: its four images, and each region's copy of them. */
export function scaleSpaceNeeded(size: number): number {
  return 4.2 * size;
}

export async function benchScale(ctx: BenchContext): Promise<void> {
  const imageSize = Math.max(MiB, Math.floor(ctx.size / IMAGES / MiB) * MiB);
  const files = [];
  console.log(`Generating ${IMAGES} images of ${fmt(imageSize / MiB, 0)} MiB (untimed)...`);
  for (let i = 1; i <= IMAGES; i++) {
    const file = join(ctx.scratch, `scale-${i}.raw`);
    files.push({ file, size: imageSize, md5: await generateRandomFile(file, imageSize) });
  }
  const totalBytes = imageSize * IMAGES;
  const stack = await findStack();
  if (typeof stack === 'string') console.log(`PostgreSQL + S3 rows: ${stack}`);
  const rows: Row[] = [];
  for (const configuration of CONFIGURATIONS) {
    if (interrupted.signal.aborted) break;
    const cpSeconds = await ctx.baseline.measure();
    if (configuration.stack === 'postgres-s3' && typeof stack === 'string') {
      rows.push({ configuration, cpSeconds, missing: stack });
      continue;
    }
    const s3 =
      configuration.stack === 'postgres-s3' && typeof stack !== 'string'
        ? {
            s3PutSeconds: await s3PutBaseline(stack, ctx.source, false),
            s3ChunkPutSeconds: await s3PutBaseline(stack, ctx.source, true),
          }
        : {};
    console.log(`${configuration.name}, ${configuration.processes} per region...`);
    const result = await runConfiguration(
      ctx,
      configuration,
      typeof stack === 'string' ? undefined : stack,
      files,
    );
    console.log(
      `  upload ${fmt(result.uploadSeconds, 2)} s, replication ${fmt(result.replicationSeconds, 2)} s`,
    );
    rows.push({
      configuration,
      cpSeconds,
      ...s3,
      ...result,
    });
  }
  await Promise.all(files.map(({ file }) => rm(file, { force: true })));
  console.log(
    ['', ...renderScale(rows, totalBytes, ctx.size), '', await machineLine(ctx.scratch)].join('\n'),
  );
}

/**
 * The PUT of the whole generated file into the bucket (or, `inChunks`, of its 1 MiB pieces, S3_PARALLELISM at
 * once), then its removal; its seconds.
 */
async function s3PutBaseline(stack: Stack, file: string, inChunks: boolean): Promise<number> {
  const key = `bench/baseline-${randomBytes(4).toString('hex')}${inChunks ? '/' : ''}`;
  try {
    return await s3Put(stack.s3, key, file);
  } finally {
    await dropStack(stack, [], key);
  }
}

function renderScale(rows: readonly Row[], totalBytes: number, baselineBytes: number): string[] {
  const cp = median(rows.map((row) => row.cpSeconds));
  const medianOf = (pick: (row: Row) => number | undefined) => {
    const values = rows.flatMap((row) => (pick(row) !== undefined ? [pick(row)!] : []));
    return values.length > 0 ? { seconds: median(values), runs: values.length } : undefined;
  };
  const put = medianOf((row) => row.s3PutSeconds);
  const chunkPut = medianOf((row) => row.s3ChunkPutSeconds);
  const rate = (bytes: number, s: number) => bytes / MiB / s;
  const cpRate = rate(baselineBytes, cp);
  const chunkRate = chunkPut && rate(baselineBytes, chunkPut.seconds);
  const lines = [
    `Baselines, the same bytes: durable cp + sync ${fmt(cpRate, 0)} MiB/s (median of ${rows.length} runs)` +
      (put && chunkPut
        ? `; into the S3 server, one PUT ${fmt(rate(baselineBytes, put.seconds), 0)} MiB/s, as 1 MiB objects ` +
          `${S3_PARALLELISM} at once ${fmt(chunkRate!, 0)} MiB/s (medians of ${put.runs})`
        : '') +
      `. ${IMAGES} images, ${fmt(totalBytes / MiB, 0)} MiB in all, uploaded one after the other; replicated in one request, ${IMAGES} jobs at once.`,
    '',
  ];
  const ofChunks = (row: Row, value: number) =>
    chunkRate !== undefined && row.configuration.stack === 'postgres-s3'
      ? `${fmt(value / chunkRate, 2)}×`
      : '';
  const table = rows.map((row) => {
    if (row.missing !== undefined) {
      return [
        row.configuration.name,
        row.configuration.processes,
        'unavailable',
        '',
        '',
        'unavailable',
        '',
        '',
      ];
    }
    const up = rate(totalBytes, row.uploadSeconds!);
    const rep = rate(totalBytes, row.replicationSeconds!);
    return [
      row.configuration.name,
      row.configuration.processes,
      `${fmt(up, 0)} MiB/s`,
      `${fmt(up / cpRate, 2)}×`,
      ofChunks(row, up),
      `${fmt(rep, 0)} MiB/s`,
      `${fmt(rep / cpRate, 2)}×`,
      ofChunks(row, rep),
    ];
  });
  return [
    ...lines,
    ...markdownTable(
      [
        'stack',
        'per region',
        'upload',
        'of cp',
        'of S3 1 MiB PUTs',
        'replication',
        'of cp',
        'of S3 1 MiB PUTs',
      ],
      ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r'],
      table,
    ),
  ];
}

// ---------------------------------------------------------------------------------------------------------
// Cleanup, in a child process: `node --import tsx bench/scale.ts drop <pg url> <s3 json> <prefix> <schema>...`
// (the bench process must not load Ferry's modules: see regions.ts).

const DROP_COMMAND = 'drop';
const PUT_COMMAND = 'put';

/**
 * Prints the seconds one PutObject of `file` takes (the file streamed, its length given); for a `key` ending in
 * `/`, the seconds its 1 MiB pieces take as objects `<key><n>`, S3_PARALLELISM PUTs at once.
 */
async function put(s3: S3Server, key: string, file: string): Promise<void> {
  const [{ S3Client, PutObjectCommand }, { s3ClientConfig }, { createReadStream }, { stat, open }] =
    await Promise.all([
      import('@aws-sdk/client-s3'),
      import('../src/blobs/drivers/s3.js'),
      import('node:fs'),
      import('node:fs/promises'),
    ]);
  const client = new S3Client(s3ClientConfig(s3));
  const { size } = await stat(file);
  const started = performance.now();
  if (key.endsWith('/')) {
    const handle = await open(file);
    let next = 0;
    const pieces = Math.ceil(size / MiB);
    const worker = async () => {
      for (let i = next++; i < pieces; i = next++) {
        const body = Buffer.alloc(Math.min(MiB, size - i * MiB));
        await handle.read(body, 0, body.length, i * MiB);
        await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `${key}${i}`, Body: body }));
      }
    };
    await Promise.all(Array.from({ length: S3_PARALLELISM }, worker));
    await handle.close();
  } else {
    await client.send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: key,
        Body: createReadStream(file),
        ContentLength: size,
      }),
    );
  }
  process.stdout.write(String(seconds(started)));
  client.destroy();
}

async function drop(pgUrl: string, s3: S3Server, prefix: string, schemas: string[]): Promise<void> {
  const [{ default: pg }, { createS3BlobDriver }] = await Promise.all([
    import('pg'),
    import('../src/blobs/drivers/s3.js'),
  ]);
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`drop schema if exists ${schema} cascade`);
  } finally {
    await client.end();
  }
  const driver = await createS3BlobDriver({ ...s3, prefix: '', checkBucket: false });
  try {
    // A prefix (ending in `/`): every object under it; else the one object it names.
    const keys: string[] = prefix.endsWith('/') ? [] : [prefix];
    if (prefix.endsWith('/')) for await (const key of driver.list(prefix)) keys.push(key);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < keys.length; i = next++) await driver.delete(keys[i]!);
    };
    await Promise.all(Array.from({ length: S3_PARALLELISM }, worker));
  } finally {
    await driver.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === PUT_COMMAND) {
  const [s3, key, file] = process.argv.slice(3);
  put(JSON.parse(s3!) as S3Server, key!, file!).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === DROP_COMMAND) {
  const [pgUrl, s3, prefix, ...schemas] = process.argv.slice(3);
  drop(pgUrl!, JSON.parse(s3!) as S3Server, prefix!, schemas).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
