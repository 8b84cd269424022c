/**
 * Helpers for replication tests: upload an image, start a copy, wait for a job to end.
 * @module
 */
import assert from 'node:assert/strict';
import type { JobView } from '../../src/api/schemas/job.js';
import { api, OCTET, type ApiResponse, type TestDeployment } from './deployment.js';

/** Creates an image in `region` and uploads `data`; returns its id. */
export async function uploadImage(
  d: Pick<TestDeployment, 'url'>,
  token: string,
  region: string,
  data: Uint8Array,
  fields: Record<string, unknown> = {},
): Promise<string> {
  const created = await api(d.url(region), token, 'POST', '/v2/images', {
    name: 'img',
    disk_format: 'raw',
    container_format: 'bare',
    visibility: 'private',
    ...fields,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const uploaded = await api(d.url(region), token, 'PUT', `/v2/images/${created.body.id}/file`, data, OCTET);
  assert.equal(uploaded.status, 204, JSON.stringify(uploaded.body));
  return created.body.id;
}

/** `POST /v1/cloudimages/{imageId}/cross_region_copy` in the source region at `url`: the answer, as it is. */
export function requestReplication(
  url: string,
  token: string | undefined,
  imageId: string,
  body: unknown,
): Promise<ApiResponse> {
  return api(url, token, 'POST', `/v1/cloudimages/${imageId}/cross_region_copy`, body);
}

/** Starts a replication (by default to south-1 through the demo agency); its job id. */
export async function startReplication(
  url: string,
  token: string,
  imageId: string,
  body: Record<string, unknown> = { region: 'south-1', agency_name: 'ferry_copy' },
): Promise<string> {
  const started = await requestReplication(url, token, imageId, body);
  assert.equal(started.status, 200, JSON.stringify(started.body));
  return started.body.job_id as string;
}

/** Polls a job in its source region until `done` says so (or the time is up); returns that view. */
export async function waitForJobUntil(
  url: string,
  token: string,
  jobId: string,
  done: (job: JobView) => boolean,
  timeoutMs = 60_000,
): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await api(url, token, 'GET', `/v1/cloudimages/job/${jobId}`);
    assert.equal(job.status, 200, JSON.stringify(job.body));
    if (done(job.body as JobView)) return job.body as JobView;
    if (Date.now() > deadline)
      assert.fail(`job ${jobId} still ${job.body.status}: ${JSON.stringify(job.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Polls a job in its source region until it ends (or the time is up); returns its last view. */
export function waitForJob(url: string, token: string, jobId: string, timeoutMs = 60_000): Promise<JobView> {
  return waitForJobUntil(
    url,
    token,
    jobId,
    (job) => ['SUCCESS', 'FAIL', 'CANCELLED'].includes(job.status),
    timeoutMs,
  );
}

/**
 * Deterministic pseudo-random bytes (xorshift), fast and different for each seed. The state is 2 * seed + 1:
 * odd, so never the zero state xorshift cannot leave, and distinct per seed (`seed | 1` gave seeds 2k and
 * 2k + 1 the same bytes, and tests meaning to replicate distinct images replicated duplicates).
 */
export function pseudoRandom(bytes: number, seed: number): Buffer {
  const data = Buffer.alloc(bytes);
  let x = (Math.imul(seed, 2) + 1) | 0;
  for (let i = 0; i + 4 <= bytes; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data.writeInt32LE(x | 0, i);
  }
  return data;
}
