/**
 * Helpers for replication tests: upload an image, start a copy, wait for a job to end.
 * @module
 */
import assert from 'node:assert/strict';
import { api, OCTET, type TestDeployment } from './deployment.js';

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

/** Polls a job in its source region until it ends (or the time is up); returns its last view. */
export async function waitForJob(
  url: string,
  token: string,
  jobId: string,
  timeoutMs = 60_000,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- job views are checked field by field
): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await api(url, token, 'GET', `/v1/cloudimages/job/${jobId}`);
    assert.equal(job.status, 200, JSON.stringify(job.body));
    if (['SUCCESS', 'FAIL', 'CANCELLED'].includes(job.body.status)) return job.body;
    if (Date.now() > deadline)
      assert.fail(`job ${jobId} still ${job.body.status}: ${JSON.stringify(job.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Deterministic pseudo-random bytes (xorshift), fast and different for each seed. */
export function pseudoRandom(bytes: number, seed: number): Buffer {
  const data = Buffer.alloc(bytes);
  let x = seed | 1;
  for (let i = 0; i + 4 <= bytes; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data.writeInt32LE(x | 0, i);
  }
  return data;
}
