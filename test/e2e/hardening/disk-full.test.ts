// A region whose disk fills (issue 22, point 3): its blob folder on a small ext4 file system of its own (a loop
// mount the test makes; root only) with a filler file taking most of it. An upload that does not fit is
// refused 413 STORAGE_FULL and its image goes back to `queued`; a replication into the region retries, saying
// the disk is full; what the region held stays whole (downloads, scrub); once the filler is gone the same
// upload succeeds and the replication finishes, both byte-identical. Real `ferry serve` processes (dist/).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { api, OCTET } from '../../helpers/deployment.js';
import { startRegionProcesses } from '../../helpers/region-processes.js';
import { recordReliability } from '../../helpers/reliability.js';
import { pseudoRandom, startReplication, uploadImage, waitForJob } from '../../helpers/replication.js';
import { ownStackSkip } from '../../helpers/stack.js';
import { makeTempDir } from '../../helpers/tmp.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
/** The file system's size, and what the filler leaves free of it (about). */
const DISK_MiB = 96;
const FREE_MiB = 20;

const skip =
  ownStackSkip() ||
  (process.getuid?.() === 0 ? false : 'mounts a small file system of its own: run as root (CI does)');

async function download(url: string, token: string, id: string): Promise<Buffer> {
  const response = await fetch(`${url}/v2/images/${id}/file`, { headers: { 'x-auth-token': token } });
  assert.equal(response.status, 200, id);
  return Buffer.from(await response.arrayBuffer());
}

test(
  'a region whose disk is full refuses what does not fit, keeps what it has, and works again once space returns',
  { skip, timeout: 240_000 },
  async (t) => {
    // The folder store and SQLite, whatever the test stack: the disk that fills is the blob folder's.
    const p = await startRegionProcesses(t, ['north-1', 'south-1'], {
      storage: { blobStore: 'fs', packBytes: 4 * MiB },
      replication: { pollMs: 50, retryBaseMs: 50, maxAttempts: 40, chunkAttempts: 2 },
    });
    const token = p.demo.token;

    // south-1's blob folder moves onto a small ext4 of its own. The hooks run in the order they are added: the
    // processes stop (startRegionProcesses's hook), then the file system is unmounted, then its folder removed.
    const mount: { point?: string } = {};
    t.after(async () => {
      const point = mount.point;
      if (point !== undefined) await run('umount', [point]).catch(() => run('umount', ['-l', point]));
    });
    const scratch = await makeTempDir(t);
    const disk = join(scratch, 'disk.img');
    const mountPoint = join(scratch, 'mnt');
    await run('truncate', ['-s', `${DISK_MiB}M`, disk]);
    await run('mkfs.ext4', ['-q', '-F', disk]);
    await mkdir(mountPoint);
    await run('mount', ['-o', 'loop', disk, mountPoint]);
    mount.point = mountPoint;

    await p.kill('south-1', 'SIGTERM');
    const blobs = join(p.dataDir, 'south-1', 'blobs');
    await cp(blobs, join(mountPoint, 'blobs'), { recursive: true });
    await rm(blobs, { recursive: true });
    await symlink(join(mountPoint, 'blobs'), blobs);
    const { stdout } = await run('df', ['--output=avail', '-B', '1M', mountPoint]);
    const available = Number(stdout.split('\n')[1]);
    await run('fallocate', ['-l', `${available - FREE_MiB}M`, join(mountPoint, 'filler')]);
    await p.start('south-1');

    // What fits is stored.
    const small = pseudoRandom(2 * MiB, 301);
    const smallId = await uploadImage(p, token, 'south-1', small, { name: 'fits' });

    // A replication that does not fit: it retries, and says why.
    const big = pseudoRandom(32 * MiB, 302);
    const bigId = await uploadImage(p, token, 'north-1', big, { name: 'replicated' });
    const jobId = await startReplication(p.url('north-1'), token, bigId);
    let told = '';
    for (let i = 0; i < 400 && !told.includes('storage is full'); i++) {
      told = String(
        (await api(p.url('north-1'), token, 'GET', `/v1/cloudimages/job/${jobId}`)).body.fail_reason,
      );
      await sleep(50);
    }
    assert.match(told, /this region's image storage is full \(.*ENOSPC/, told);

    // An upload that does not fit: 413 STORAGE_FULL, and the image is queued again for a later try.
    const upload = pseudoRandom(32 * MiB, 303);
    const created = await api(p.url('south-1'), token, 'POST', '/v2/images', {
      name: 'too-big',
      disk_format: 'raw',
      container_format: 'bare',
    });
    const putUpload = () =>
      api(p.url('south-1'), token, 'PUT', `/v2/images/${created.body.id}/file`, upload, OCTET);
    const refused = await putUpload();
    assert.equal(refused.status, 413, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 'STORAGE_FULL');
    const queued = await api(p.url('south-1'), token, 'GET', `/v2/images/${created.body.id}`);
    assert.equal(queued.body.status, 'queued');

    // What the region held is whole: it downloads byte for byte, and a scrub finds nothing damaged.
    assert.ok((await download(p.url('south-1'), token, smallId)).equals(small));
    const scrub = await api(p.url('south-1'), p.admin.token, 'POST', '/v1/admin/scrub', {});
    assert.equal(scrub.status, 200, JSON.stringify(scrub.body));
    assert.deepEqual(scrub.body.damagedImages, []);
    assert.deepEqual(scrub.body.corruptChunks, []);

    // Space returns: the same upload succeeds, the replication finishes, both byte-identical.
    await rm(join(mountPoint, 'filler'));
    const again = await putUpload();
    assert.equal(again.status, 204, JSON.stringify(again.body));
    assert.ok((await download(p.url('south-1'), token, created.body.id)).equals(upload));
    const job = await waitForJob(p.url('north-1'), token, jobId, 120_000);
    assert.equal(job.status, 'SUCCESS', JSON.stringify(job));
    assert.ok((await download(p.url('south-1'), token, job.entities.image_id!)).equals(big));
    assert.ok((await download(p.url('south-1'), token, smallId)).equals(small));
    await recordReliability({
      class: 'disk',
      subject: `a region's blob folder on a ${DISK_MiB} MiB ext4 loop mount filled to ${FREE_MiB} MiB free`,
      tried: `a ${small.length / MiB} MiB upload that fits, a ${big.length / MiB} MiB replication and a ${upload.length / MiB} MiB upload that do not, then the filler removed`,
      held: `the upload refused 413 STORAGE_FULL and its image queued again; the replication retried saying "storage is full"; the image held downloaded whole and scrubbed clean; once space returned the upload and the replication succeeded byte-identical`,
      file: 'test/e2e/hardening/disk-full.test.ts',
    });
  },
);
