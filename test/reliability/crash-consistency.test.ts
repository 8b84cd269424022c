// Crash consistency (issue 22, point 1): north-1 and south-1 run as `ferry serve` processes (dist/), and at
// seeded random kill points one of them is killed with SIGKILL during an upload, a replication, a cancel of a
// running replication, an in-region copy, a garbage collection or a scrub, then started again. After each
// restart the invariants a user relies on are checked: every job reaches a final status within a bound (a
// job that succeeded has an active, byte-identical replica; an acknowledged cancel stays cancelled), every
// `active` image touched downloads byte-identical to what was uploaded for it and carries its checksums, an
// interrupted upload never leaves an `active` image with other bytes, and the killed region's scrub finds
// nothing missing or damaged. Every few points and at the end: every active image of both regions is
// verified, and after a garbage collection with no grace each blob store holds exactly the chunks that the
// regions' image rows reference, nothing more (a leak) and nothing less (a loss).
//
// Environment: FERRY_CRASH_KILLS (kill points, default 50: the CI run; `npm run reliability -- --soak N` sets
// it), FERRY_CRASH_SEED (replays a run: the seed is printed at the start and in every failure's message).
import assert from 'node:assert/strict';
import { createHash, randomInt } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { CHUNK_SIZE, serializeManifest } from '../../src/domain/manifest.js';
import type { Digest } from '../../src/domain/ids.js';
import type { ImageView } from '../../src/api/schemas/image.js';
import type { JobView } from '../../src/api/schemas/job.js';
import { api, OCTET } from '../helpers/deployment.js';
import { startRegionProcesses } from '../helpers/region-processes.js';
import { recordReliability } from '../helpers/reliability.js';
import { pseudoRandom } from '../helpers/replication.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { ownStackSkip } from '../helpers/stack.js';
import { regionBlobs, storedChunkDigests } from '../helpers/stored-chunks.js';

const MiB = 1024 * 1024;
const KILLS = Number(process.env.FERRY_CRASH_KILLS ?? 50);
const SEED = process.env.FERRY_CRASH_SEED ? Number(process.env.FERRY_CRASH_SEED) : randomInt(2 ** 31);
const REGIONS = ['north-1', 'south-1'] as const;
type Region = (typeof REGIONS)[number];
const OPERATIONS = ['upload', 'replication', 'cancel', 'copy', 'gc', 'scrub'] as const;
type Operation = (typeof OPERATIONS)[number];

/**
 * How long every job may take to reach SUCCESS, FAIL or CANCELLED after the restart. A job needs its lease to
 * expire (2 s) or its retry backoff to pass (200 ms doubling) and then a few MiB at 4 MiB/s: seconds. The
 * bound is generous because the machine is shared with other test runs; a job that hangs never ends.
 */
const JOB_FINAL_BOUND_MS = 90_000;
/** How long an upload cut by a kill may stay `saving`: its heartbeat lives 3 s, the sweep runs every second. */
const ABANDONED_UPLOAD_BOUND_MS = 60_000;
/** A full check (every image of both regions, a collection with no grace, the stores' chunks) this often. */
const FULL_CHECK_EVERY = 10;
/** Chunks drawn from this many shared seeds are deduplicated across images; the rest are new data. */
const SHARED_CHUNK_SEEDS = 12;
/** Images kept per region (older ones are deleted), so checks stay quick however long a soak runs. */
const MAX_IMAGES_PER_REGION = 8;
/** An upload is sent in pieces with gaps, so that it lasts long enough for kill points to land inside it. */
const UPLOAD_PIECE = 256 * 1024;
const UPLOAD_GAP_MS = 10;
const BANDWIDTH = 4 * MiB;
/** The pace of a scrub that a kill interrupts (the checks' scrubs run unpaced). */
const SCRUB_PACE = 32 * MiB;

const SETTINGS = {
  // A cut upload is abandoned after 3 s without a heartbeat; no periodic collection or scrub of their own.
  limits: { uploadIdleTimeoutMs: 1_000, gcIntervalMs: 0, scrubIntervalMs: 0 },
  // Six runs per job, retried after 0.2, 0.4, 0.8, 1.6 and 3.2 s: a kill costs a run or two, and a job that
  // cannot finish ends FAIL within JOB_FINAL_BOUND_MS rather than after minutes of backoff.
  replication: { leaseMs: 2_000, pollMs: 100, retryBaseMs: 200, maxAttempts: 6, bandwidthLimit: BANDWIDTH },
  // The folder store (so its packs can be read), with small packs: collections rewrite them (compaction).
  // Every barrier 20 ms slower: chunks stay written but not yet durable for longer, the window a kill must
  // find, and operations last long enough for kill points to land inside them.
  storage: { blobStore: 'fs' as const, packBytes: 8 * MiB, flushDelayMs: 20 },
};

/** What an image must hold: its bytes' hashes and its manifest (fixed 1 MiB chunks, as Ferry cuts them). */
interface Expected {
  /** Seeds of its full chunks, then the length of a last, short chunk from `tailSeed` (0: none). */
  seeds: number[];
  tailSeed: number;
  tailBytes: number;
  size: number;
  sha256: string;
  md5: string;
  chunkDigests: string[];
  manifestDigest: string;
}

const sharedChunks = new Map<number, Buffer>();
function chunkBytes(seed: number): Buffer {
  if (seed > SHARED_CHUNK_SEEDS) return pseudoRandom(CHUNK_SIZE, seed);
  let chunk = sharedChunks.get(seed);
  if (!chunk) sharedChunks.set(seed, (chunk = pseudoRandom(CHUNK_SIZE, seed)));
  return chunk;
}

function bytesOf(e: Pick<Expected, 'seeds' | 'tailSeed' | 'tailBytes'>): Buffer {
  const parts = e.seeds.map(chunkBytes);
  if (e.tailBytes > 0) parts.push(chunkBytes(e.tailSeed).subarray(0, e.tailBytes));
  return Buffer.concat(parts);
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

function expectationOf(seeds: number[], tailSeed: number, tailBytes: number): Expected {
  const data = bytesOf({ seeds, tailSeed, tailBytes });
  const chunkDigests: string[] = [];
  for (let at = 0; at < data.length; at += CHUNK_SIZE)
    chunkDigests.push(sha256(data.subarray(at, at + CHUNK_SIZE)));
  const manifest = { chunkSize: CHUNK_SIZE, size: data.length, chunks: chunkDigests as Digest[] };
  return {
    seeds,
    tailSeed,
    tailBytes,
    size: data.length,
    sha256: sha256(data),
    md5: createHash('md5').update(data).digest('hex'),
    chunkDigests,
    manifestDigest: sha256(serializeManifest(manifest)),
  };
}

test(
  'SIGKILL of a region at random points of uploads, replications, cancels, copies, GC and scrub leaves every invariant whole',
  { skip: ownStackSkip(), timeout: Math.max(20, KILLS) * 60_000 },
  async (t) => {
    t.diagnostic(
      `crash-consistency seed ${SEED} (FERRY_CRASH_SEED=${SEED} replays it), ${KILLS} kill points`,
    );
    const random = seededRandom(SEED);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const between = (low: number, high: number) => Math.floor(low + random() * (high - low));
    let nextUniqueSeed = SHARED_CHUNK_SEEDS + 1 + between(0, 1_000_000) * 64;

    const p = await startRegionProcesses(t, [...REGIONS], SETTINGS);
    const token = p.demo.token;
    const admin = p.admin.token;
    /** What every image this run made must hold, by ID (uploads, and replicas and copies once seen). */
    const expected = new Map<string, Expected>();
    /** Every manifest this run could have stored, by digest: its chunks. */
    const manifests = new Map<string, string[]>();
    const tried = { operation: new Map<string, number>(), killed: new Map<string, number>() };
    const held = { imagesVerified: 0, jobsFinal: 0, scrubsClean: 0, gcChecks: 0, cancelsKept: 0 };
    const count = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);

    const newContent = (): Expected => {
      const seeds = Array.from({ length: between(2, 6) }, () =>
        random() < 0.5 ? between(1, SHARED_CHUNK_SEEDS + 1) : nextUniqueSeed++,
      );
      const e = expectationOf(seeds, nextUniqueSeed++, random() < 0.5 ? between(1, CHUNK_SIZE) : 0);
      manifests.set(e.manifestDigest, e.chunkDigests);
      return e;
    };

    const list = async (region: Region): Promise<ImageView[]> => {
      const answer = await api(p.url(region), token, 'GET', '/v2/images?limit=1000');
      assert.equal(answer.status, 200, `list ${region}: ${JSON.stringify(answer.body)}`);
      return answer.body.images as ImageView[];
    };
    const activeIn = async (region: Region) => (await list(region)).filter((i) => i.status === 'active');

    /** The expectation of an image: its own, or its source's (a replica or a copy holds its source's bytes). */
    const expectationFor = (image: ImageView): Expected | undefined => {
      const own =
        expected.get(image.id) ??
        (image.replication?.source_image_id ? expected.get(image.replication.source_image_id) : undefined);
      if (own) expected.set(image.id, own);
      return own;
    };

    const verify = async (region: Region, image: ImageView) => {
      const e = expectationFor(image);
      assert.ok(
        e,
        `active image ${image.id} in ${region} comes from no upload of this run: ${JSON.stringify(image)}`,
      );
      const response = await fetch(`${p.url(region)}/v2/images/${image.id}/file`, {
        headers: { 'x-auth-token': token },
      });
      assert.equal(response.status, 200, `download of ${image.id} in ${region}`);
      const data = Buffer.from(await response.arrayBuffer());
      assert.equal(data.length, e.size, `image ${image.id} in ${region}: downloaded length`);
      assert.equal(sha256(data), e.sha256, `image ${image.id} in ${region} downloads other bytes`);
      assert.equal(image.size, e.size, `image ${image.id} in ${region}: size`);
      assert.equal(image.checksum, e.md5, `image ${image.id} in ${region}: checksum`);
      const osHash = createHash(image.os_hash_algo ?? 'sha512')
        .update(data)
        .digest('hex');
      assert.equal(image.os_hash_value, osHash, `image ${image.id} in ${region}: os_hash_value`);
      held.imagesVerified++;
    };

    /** Verifies the active images among `ids` in `region` (all of them when `ids` is undefined). */
    const verifyActive = async (region: Region, ids?: Set<string>) => {
      for (const image of await activeIn(region)) {
        if (ids === undefined || ids.has(image.id)) await verify(region, image);
      }
    };

    const upload = async (region: Region, e: Expected, body: ReadableStream | Buffer) => {
      const created = await api(p.url(region), token, 'POST', '/v2/images', {
        name: `crash-${held.imagesVerified}`,
        disk_format: 'raw',
        container_format: 'bare',
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.id as string;
      expected.set(id, e);
      const put = api(p.url(region), token, 'PUT', `/v2/images/${id}/file`, body, OCTET);
      return { id, put };
    };

    /** An active image of `region` to work from: one uploaded now (no kill) if the region has none. */
    const someActiveImage = async (region: Region): Promise<ImageView> => {
      const active = await activeIn(region);
      return active.length > 0 ? pick(active) : freshImage(region);
    };

    /** An image uploaded now (no kill) with new content. */
    const freshImage = async (region: Region): Promise<ImageView> => {
      const e = newContent();
      const { id, put } = await upload(region, e, bytesOf(e));
      assert.equal((await put).status, 204, 'an upload with no kill');
      return (await activeIn(region)).find((i) => i.id === id)!;
    };

    const deleteImage = async (region: Region, id: string) => {
      const answer = await api(p.url(region), token, 'DELETE', `/v2/images/${id}`);
      assert.equal(answer.status, 204, `delete ${id} in ${region}: ${JSON.stringify(answer.body)}`);
    };

    const startReplicationOf = async (imageId: string) => {
      const started = await api(
        p.url('north-1'),
        token,
        'POST',
        `/v1/cloudimages/${imageId}/cross_region_copy`,
        {
          region: 'south-1',
          agency_name: 'ferry_copy',
          name: `replica-${imageId.slice(0, 8)}`,
        },
      );
      assert.equal(started.status, 200, JSON.stringify(started.body));
      return started.body.job_id as string;
    };

    const jobsOf = async (region: Region): Promise<JobView[]> => {
      const answer = await api(p.url(region), token, 'GET', '/v1/cloudimages/jobs?limit=1000');
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return answer.body.jobs as JobView[];
    };

    /** Waits until every job of both regions is final; returns north-1's source jobs by ID. */
    const waitJobsFinal = async (): Promise<Map<string, JobView>> => {
      const deadline = Date.now() + JOB_FINAL_BOUND_MS;
      for (;;) {
        const jobs = [...(await jobsOf('north-1')), ...(await jobsOf('south-1'))];
        const open = jobs.filter((j) => !['SUCCESS', 'FAIL', 'CANCELLED'].includes(j.status));
        if (open.length === 0) return new Map((await jobsOf('north-1')).map((j) => [j.job_id, j]));
        assert.ok(
          Date.now() < deadline,
          `jobs not final ${JOB_FINAL_BOUND_MS} ms after the restart: ${JSON.stringify(open)}`,
        );
        await sleep(200);
      }
    };

    /** Waits until no image of either region is `saving` (cut uploads are killed, replicas end). */
    const waitNothingSaving = async () => {
      const deadline = Date.now() + ABANDONED_UPLOAD_BOUND_MS;
      for (;;) {
        const saving = [...(await list('north-1')), ...(await list('south-1'))].filter(
          (i) => i.status === 'saving',
        );
        if (saving.length === 0) return;
        assert.ok(Date.now() < deadline, `images still saving: ${saving.map((i) => i.id).join(', ')}`);
        await sleep(250);
      }
    };

    const scrubClean = async (region: Region) => {
      const answer = await api(p.url(region), admin, 'POST', '/v1/admin/scrub', {});
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const { corruptChunks, missingChunks, badManifests, damagedImages } = answer.body;
      assert.deepEqual(
        { corruptChunks, missingChunks, badManifests, damagedImages },
        { corruptChunks: [], missingChunks: [], badManifests: [], damagedImages: [] },
        `scrub of ${region} found damage`,
      );
      held.scrubsClean++;
    };

    /** The chunks the region's rows reference: image rows' manifests and unfinished jobs' (read-only). */
    const referencedChunks = (region: Region): Set<string> => {
      const db = new Database(join(p.dataDir, region, 'ferry.sqlite'), {
        readonly: true,
        fileMustExist: true,
      });
      try {
        const rows = db
          .prepare(
            `SELECT manifest_digest AS d FROM images WHERE manifest_digest IS NOT NULL
             UNION SELECT manifest_digest FROM jobs WHERE role IN ('destination', 'local')
               AND status IN ('INIT', 'RUNNING') AND manifest_digest IS NOT NULL`,
          )
          .all() as Array<{ d: string }>;
        const chunks = new Set<string>();
        for (const { d } of rows) {
          const listed = manifests.get(d);
          assert.ok(listed, `${region} references manifest ${d}, which no upload of this run made`);
          for (const digest of listed) chunks.add(digest);
        }
        return chunks;
      } finally {
        db.close();
      }
    };

    /** Everything checked, in both regions, then a collection with no grace and the stores' chunks. */
    const fullCheck = async () => {
      await waitJobsFinal();
      await waitNothingSaving();
      for (const region of REGIONS) {
        await verifyActive(region);
        await scrubClean(region);
        const gc = await api(p.url(region), admin, 'POST', '/v1/admin/gc', { grace_seconds: 0 });
        assert.equal(gc.status, 200, JSON.stringify(gc.body));
        const stored = new Set(await storedChunkDigests(regionBlobs(p, region)));
        const referenced = referencedChunks(region);
        const leaked = [...stored].filter((d) => !referenced.has(d));
        const lost = [...referenced].filter((d) => !stored.has(d));
        assert.deepEqual(leaked, [], `${region} keeps unreferenced chunks after a collection with no grace`);
        assert.deepEqual(lost, [], `${region} lost referenced chunks`);
        held.gcChecks++;
      }
    };

    /** Keeps a region at MAX_IMAGES_PER_REGION images or fewer. */
    const makeRoom = async (region: Region) => {
      const images = await list(region);
      for (const image of images.slice(0, Math.max(0, images.length - MAX_IMAGES_PER_REGION + 1))) {
        await deleteImage(region, image.id);
      }
    };

    /** Runs one operation, killing `victim` while it runs; the IDs it touched, and its jobs. */
    const runKillPoint = async (op: Operation, victim: Region, note: (s: string) => void) => {
      const touched = new Set<string>();
      const jobs: Array<{ id: string; cancelled: boolean }> = [];
      /** Kills the victim at a random moment of the operation's expected `spanMs` (and a little past it). */
      const killWithin = async (spanMs: number) => {
        const ms = between(0, spanMs * 1.2);
        note(`SIGKILL at ${ms} ms`);
        await sleep(ms);
        await p.kill(victim, 'SIGKILL');
      };
      switch (op) {
        case 'upload': {
          await makeRoom(victim);
          const e = newContent();
          const { id, put } = await upload(victim, e, pacedBody(bytesOf(e)));
          touched.add(id);
          const [answer] = await Promise.allSettled([put, killWithin(uploadMs(e.size))]);
          note(answer.status === 'fulfilled' ? `PUT ${answer.value.status}` : 'PUT cut');
          break;
        }
        case 'replication':
        case 'cancel': {
          await makeRoom('south-1');
          await makeRoom('north-1');
          // New data (partly shared chunks), so that the transfer has chunks to send and lasts.
          const source = await freshImage('north-1');
          touched.add(source.id);
          const jobId = await startReplicationOf(source.id);
          const job = { id: jobId, cancelled: false };
          jobs.push(job);
          if (op === 'replication') {
            await killWithin(transferMs(source.size ?? 0));
            break;
          }
          // Early in the transfer, so that most cancels find the job still running.
          const cancelAt = between(0, transferMs(source.size ?? 0) * 0.6);
          const cancel = (async () => {
            await sleep(cancelAt);
            const answer = await api(p.url('north-1'), token, 'POST', `/v1/cloudimages/job/${jobId}/cancel`);
            job.cancelled = answer.status === 200 && answer.body.status === 'CANCELLED';
            note(
              `cancel at ${cancelAt} ms: ${answer.status} ${answer.body?.status ?? answer.body?.code ?? ''}`,
            );
          })().catch((error: Error) => note(`cancel at ${cancelAt} ms cut: ${error.message}`));
          await Promise.all([cancel, killWithin(transferMs(source.size ?? 0))]);
          break;
        }
        case 'copy': {
          const source = await someActiveImage(victim);
          touched.add(source.id);
          const copy = api(p.url(victim), token, 'POST', `/v1/cloudimages/${source.id}/copy`, {
            name: `copy-${source.id.slice(0, 8)}`,
          });
          // A copy is a few rows: it ends within milliseconds.
          const [answer] = await Promise.allSettled([copy, killWithin(20)]);
          if (answer.status === 'fulfilled' && answer.value.status === 200) {
            touched.add(answer.value.body.image_id);
            expected.set(answer.value.body.image_id, expectationFor(source)!);
          }
          note(answer.status === 'fulfilled' ? `copy ${answer.value.status}` : 'copy cut');
          break;
        }
        case 'gc': {
          // Something to collect: an image deleted, and so its chunks unreferenced unless shared.
          const active = await activeIn(victim);
          if (active.length > 1) await deleteImage(victim, pick(active).id);
          const gc = api(p.url(victim), admin, 'POST', '/v1/admin/gc', { grace_seconds: 0 });
          // A collection of a few dozen chunks ends within a few milliseconds.
          const [answer] = await Promise.allSettled([gc, killWithin(5)]);
          note(answer.status === 'fulfilled' ? `gc ${answer.value.status}` : 'gc cut');
          break;
        }
        case 'scrub': {
          // Paced, so that the walk lasts long enough for kill points to land inside it.
          const storedBytes = (await storedChunkDigests(regionBlobs(p, victim))).length * CHUNK_SIZE;
          const scrub = api(p.url(victim), admin, 'POST', '/v1/admin/scrub', {
            bytes_per_second: SCRUB_PACE,
          });
          const [answer] = await Promise.allSettled([scrub, killWithin((storedBytes / SCRUB_PACE) * 1000)]);
          note(answer.status === 'fulfilled' ? `scrub ${answer.value.status}` : 'scrub cut');
          break;
        }
      }
      return { touched, jobs };
    };

    for (let point = 0; point < KILLS; point++) {
      const op = pick(OPERATIONS);
      // Replications and cancels: the source or the destination; the others: the region doing the work.
      const victim: Region = pick(REGIONS);
      const notes: string[] = [];
      const where = `seed ${SEED}, kill point ${point + 1}/${KILLS}: ${op}, SIGKILL of ${victim}`;
      count(tried.operation, op);
      count(tried.killed, victim);
      try {
        const { touched, jobs } = await runKillPoint(op, victim, (s) => notes.push(s));
        await p.start(victim);
        const finals = await waitJobsFinal();
        for (const job of jobs) {
          const final = finals.get(job.id);
          assert.ok(final, `job ${job.id} is not listed in north-1`);
          held.jobsFinal++;
          if (job.cancelled) {
            assert.equal(
              final.status,
              'CANCELLED',
              `job ${job.id} was cancelled, then ended ${final.status}`,
            );
            held.cancelsKept++;
          }
          const replica = final.dest_image_id ?? final.entities.image_id;
          if (final.status === 'SUCCESS') {
            assert.ok(replica, `job ${job.id} succeeded without a replica`);
            const image = (await list('south-1')).find((i) => i.id === replica);
            assert.equal(image?.status, 'active', `job ${job.id} succeeded, its replica is ${image?.status}`);
            touched.add(replica);
          } else if (replica) {
            // A replication that did not succeed leaves no active replica behind.
            const image = (await list('south-1')).find((i) => i.id === replica);
            assert.notEqual(
              image?.status,
              'active',
              `job ${job.id} ended ${final.status}, its replica is active`,
            );
          }
          notes.push(`job ${final.status}`);
        }
        for (const region of REGIONS) await verifyActive(region, touched);
        await scrubClean(victim);
        if ((point + 1) % FULL_CHECK_EVERY === 0 || point + 1 === KILLS) await fullCheck();
        t.diagnostic(`${where}: ${notes.join('; ')}`);
      } catch (error) {
        if (error instanceof Error) error.message = `[${where}; ${notes.join('; ')}] ${error.message}`;
        throw error;
      }
    }

    const counts = (map: Map<string, number>) => [...map].map(([k, n]) => `${k} ${n}`).join(', ');
    t.diagnostic(
      `operations: ${counts(tried.operation)}; killed: ${counts(tried.killed)}; held: ${JSON.stringify(held)}`,
    );
    await recordReliability({
      class: 'crash',
      subject:
        'SIGKILL of a region process during uploads, replications, cancels, in-region copies, GC and scrub',
      tried: `${KILLS} kill points, seed ${SEED} (${counts(tried.operation)}; killed ${counts(tried.killed)})`,
      held:
        `${KILLS} of ${KILLS}: ${held.imagesVerified} active images verified byte-identical with their checksums, ` +
        `${held.jobsFinal} jobs final within ${JOB_FINAL_BOUND_MS / 1000} s (${held.cancelsKept} acknowledged ` +
        `cancels kept), ${held.scrubsClean} scrubs clean, ${held.gcChecks} collections leaving exactly the ` +
        `referenced chunks`,
      file: 'test/reliability/crash-consistency.test.ts',
    });
  },
);

/** How long a replication of `bytes` takes at the test's bandwidth cap, and a little for its start. */
function transferMs(bytes: number): number {
  return Math.ceil((bytes / BANDWIDTH) * 1000) + 300;
}

/** How long an upload of `bytes` takes, sent as pacedBody sends it. */
function uploadMs(bytes: number): number {
  return Math.ceil(bytes / UPLOAD_PIECE) * UPLOAD_GAP_MS + 50;
}

/** `data` as a request body sent in pieces with short gaps (well under the region's idle timeout). */
function pacedBody(data: Buffer): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    async pull(controller) {
      if (offset >= data.length) return controller.close();
      if (offset > 0) await sleep(UPLOAD_GAP_MS);
      controller.enqueue(data.subarray(offset, offset + UPLOAD_PIECE));
      offset += UPLOAD_PIECE;
    },
  });
}
