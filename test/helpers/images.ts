/**
 * Image helpers for the API tests: create an image record, upload a file, download (whole or with headers),
 * and wait for a status a background step sets.
 * @module
 */
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { api, OCTET, type TestDeployment } from './deployment.js';

export async function createImage(
  d: TestDeployment,
  token: string,
  body: Record<string, unknown>,
): Promise<string> {
  const created = await api(d.url(), token, 'POST', '/v2/images', { container_format: 'bare', ...body });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.id;
}

export function upload(d: TestDeployment, token: string, id: string, file: string) {
  const body = Readable.toWeb(createReadStream(file)) as ReadableStream;
  return api(d.url(), token, 'PUT', `/v2/images/${id}/file`, body, OCTET);
}

export async function download(
  d: TestDeployment,
  token: string,
  id: string,
  headers: Record<string, string> = {},
) {
  const response = await fetch(`${d.url()}/v2/images/${id}/file`, {
    headers: { 'x-auth-token': token, ...headers },
  });
  return { response, data: Buffer.from(await response.arrayBuffer()) };
}

/** The image's status once it is `wanted`, or after 5 s of asking (a broken upload is killed asynchronously). */
export async function statusSettled(d: TestDeployment, id: string, wanted: string): Promise<string> {
  let status = '';
  for (let i = 0; i < 50 && status !== wanted; i++) {
    status = (await api(d.url(), d.demo.token, 'GET', `/v2/images/${id}`)).body.status;
    if (status !== wanted) await new Promise((r) => setTimeout(r, 100));
  }
  return status;
}
