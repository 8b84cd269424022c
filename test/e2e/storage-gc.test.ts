// Garbage collection on the pack layout while uploads and replications run in the same stores: no live
// chunk is lost, and the packs' garbage is reclaimed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api } from '../helpers/deployment.js';
import { startRegionProcesses, type RegionProcesses } from '../helpers/region-processes.js';
import { pseudoRandom, requestReplication, uploadImage, waitForJob } from '../helpers/replication.js';
import { packFiles } from '../helpers/stored-chunks.js';
import { join } from 'node:path';
import { ownStackSkip } from '../helpers/stack.js';

const MiB = 1024 * 1024;

async function download(p: RegionProcesses, region: string, id: string): Promise<Buffer> {
  const response = await fetch(`${p.url(region)}/v2/images/${id}/file`, {
    headers: { 'x-auth-token': p.demo.token },
  });
  assert.equal(response.status, 200, `${region} ${id}`);
  return Buffer.from(await response.arrayBuffer());
}

async function packBytes(p: RegionProcesses, region: string): Promise<number> {
  return (await packFiles(join(p.dataDir, region, 'blobs'))).reduce((sum, pack) => sum + pack.size, 0);
}

test(
  'collections with no grace, run over and over while uploads and replications store chunks, lose no live chunk and reclaim pack garbage',
  { skip: ownStackSkip() },
  async (t) => {
    const p = await startRegionProcesses(t, ['north-1', 'south-1'], {
      // Pack files of 4 MiB, to see them compacted: the folder store's (and so SQLite's, in any test stack).
      storage: { blobStore: 'fs', packBytes: 4 * MiB },
      replication: { pollMs: 100, retryBaseMs: 100, chunksPerRequest: 2 },
    });
    const token = p.demo.token;
    const images = new Map<string, { region: string; data: Buffer }>();
    const upload = async (region: string, seed: number) => {
      const data = pseudoRandom(8 * MiB, seed);
      images.set(await uploadImage(p, token, region, data, { name: `seed-${seed}` }), { region, data });
    };
    // Odd seeds: pseudoRandom's generator makes the same bytes of seeds 2n and 2n + 1.
    for (const seed of [11, 13, 15, 17, 19, 21]) await upload('north-1', seed);
    // Deleted: their chunks are garbage spread over the packs, among the chunks of the images kept.
    for (const id of [...images.keys()].slice(0, 4)) {
      assert.equal((await api(p.url('north-1'), token, 'DELETE', `/v2/images/${id}`)).status, 204);
      images.delete(id);
    }
    const before = await packBytes(p, 'north-1');

    let collecting = true;
    const reports: Array<{ packsCompacted: number; bytesReclaimed: number; chunksDeleted: number }> = [];
    const collector = (async () => {
      while (collecting) {
        for (const region of ['north-1', 'south-1']) {
          const gc = await api(p.url(region), p.admin.token, 'POST', '/v1/admin/gc', { grace_seconds: 0 });
          assert.equal(gc.status, 200, JSON.stringify(gc.body));
          reports.push(gc.body);
        }
      }
    })();
    // Meanwhile: uploads of the deleted images' bytes again (they find chunks the collector is deleting) and
    // of new bytes, and replications both ways.
    const work = [
      upload('north-1', 11),
      upload('north-1', 13),
      upload('north-1', 23),
      upload('south-1', 25),
      ...[...images].map(async ([id, { region }]) => {
        const started = await requestReplication(p.url(region), token, id, {
          region: region === 'north-1' ? 'south-1' : 'north-1',
          agency_name: 'ferry_copy',
        });
        assert.equal(started.status, 200, JSON.stringify(started.body));
        const job = await waitForJob(p.url(region), token, started.body.job_id);
        assert.equal(job.status, 'SUCCESS', JSON.stringify(job));
        images.set(job.entities.image_id!, {
          region: region === 'north-1' ? 'south-1' : 'north-1',
          data: images.get(id)!.data,
        });
      }),
    ];
    try {
      await Promise.all(work);
    } finally {
      collecting = false;
      await collector;
    }
    for (const region of ['north-1', 'south-1']) {
      const gc = await api(p.url(region), p.admin.token, 'POST', '/v1/admin/gc', { grace_seconds: 0 });
      reports.push(gc.body);
    }

    for (const [id, { region, data }] of images) {
      assert.ok((await download(p, region, id)).equals(data), `${region} ${id} is byte-identical`);
    }
    const reclaimed = reports.reduce((sum, report) => sum + report.bytesReclaimed, 0);
    const compacted = reports.reduce((sum, report) => sum + report.packsCompacted, 0);
    t.diagnostic(
      `${reports.length} collections; ${compacted} packs compacted, ${reclaimed / MiB} MiB reclaimed`,
    );
    assert.ok(compacted > 0 && reclaimed >= 8 * MiB, 'pack garbage was reclaimed');
    const after = await packBytes(p, 'north-1');
    t.diagnostic(`north-1 packs: ${before / MiB} MiB before, ${after / MiB} MiB after`);
    // Live in north-1: seeds 11, 13, 19, 21 and 23 (40 MiB), and what stays of garbage: less than half of each pack.
    assert.ok(after < 80 * MiB, `north-1 keeps ${after / MiB} MiB of packs`);
  },
);
