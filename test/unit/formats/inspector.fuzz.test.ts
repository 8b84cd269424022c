// Hostile input, generated (issue 22, point 4): the format inspector is fed images made by qemu-img whose
// bytes are flipped, overwritten with extreme integers, truncated and sliced into random pieces (fast-check).
// Whatever it is given it must answer (no throw, no hang), stay within its memory bound, and never let a
// known hostile form through: a backing file, an external data file, a VMDK descriptor naming extents, a
// qcow2 hidden in an ISO, a declared format that lies. FERRY_FUZZ_RUNS sets the runs per property (CI: 150);
// a failure prints fast-check's seed and path, to replay it with { seed, path }.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { isFerryError } from '../../../src/domain/errors.js';
import {
  DISK_FORMATS,
  assertImageAcceptable,
  createFormatInspector,
  type InspectionResult,
} from '../../../src/formats/inspector.js';
import { makeImage, makeIso } from '../../helpers/qemu.js';
import { recordReliability } from '../../helpers/reliability.js';

const MIB = 1024 * 1024;
const RUNS = Number(process.env.FERRY_FUZZ_RUNS ?? 150);
/** The inspector's documented bound ("at most about 5.5 MiB"), with a little room. */
const MAX_RETAINED = 6 * MIB;
/** One inspection of a few MiB takes milliseconds; this much means a loop that does not end. */
const MAX_MS_PER_INSPECTION = 2_000;

interface Seeds {
  qcow2: Buffer;
  qcow2Backing: Buffer;
  qcow2DataFile: Buffer;
  vmdk: Buffer;
  vmdkFlatDescriptor: Buffer;
  vhd: Buffer;
  vhdx: Buffer;
  iso: Buffer;
}
let seeds: Seeds;

before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-fuzz-'));
  after(() => rm(dir, { recursive: true, force: true }));
  const base = await makeImage(dir, 'qcow2', 16 * MIB, { name: 'base.qcow2' });
  const read = async (path: Promise<string>) => readFile(await path);
  seeds = {
    qcow2: await read(makeImage(dir, 'qcow2', 16 * MIB, { randomData: 256 * 1024, name: 'a.qcow2' })),
    qcow2Backing: await read(makeImage(dir, 'qcow2', 16 * MIB, { backingFile: base, name: 'b.qcow2' })),
    qcow2DataFile: await read(
      makeImage(dir, 'qcow2', 16 * MIB, { dataFile: `${dir}/data.raw`, name: 'c.qcow2' }),
    ),
    vmdk: await read(makeImage(dir, 'vmdk', 16 * MIB, { randomData: 64 * 1024, name: 'd.vmdk' })),
    vmdkFlatDescriptor: Buffer.from(
      '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\n' +
        '# Extent description\nRW 2048 FLAT "/etc/passwd" 0\n\nddb.virtualHWVersion = "4"\n',
    ),
    vhd: await read(makeImage(dir, 'vhd', 16 * MIB, { name: 'e.vhd' })),
    vhdx: await read(makeImage(dir, 'vhdx', 16 * MIB, { name: 'f.vhdx' })),
    iso: await read(makeIso(dir, { files: { 'A.BIN': Buffer.alloc(64 * 1024, 7) } })),
  };
});

interface Fed {
  result: InspectionResult;
  early: string[];
  retained: number;
  ms: number;
}

/** Feeds `data` to an inspector cut at `cuts` (offsets, any order), as an upload's pieces arrive. */
function feed(data: Buffer, cuts: number[]): Fed {
  const started = performance.now();
  const inspector = createFormatInspector();
  const bounds = [...new Set(cuts.map((c) => Math.min(c, data.length)))].sort((a, b) => a - b);
  let at = 0;
  let early: string[] = [];
  for (const end of [...bounds, data.length]) {
    if (end <= at) continue;
    inspector.update(data.subarray(at, end));
    early = inspector.earlyProblems();
    at = end;
  }
  const result = inspector.finish();
  return { result, early, retained: inspector.retainedBytes, ms: performance.now() - started };
}

/** A mutation of a seed: bytes flipped, integers overwritten (in the first 64 KiB, where headers are), a cut. */
const mutation = fc.record({
  flips: fc.array(fc.record({ at: fc.nat(64 * 1024 - 1), xor: fc.integer({ min: 1, max: 255 }) }), {
    maxLength: 8,
  }),
  words: fc.array(
    fc.record({
      at: fc.nat(4096 - 8),
      value: fc.constantFrom(0n, 1n, 0xffffffffn, 0x7fffffffffffffffn, 0xffffffffffffffffn, 512n, 1n << 40n),
    }),
    { maxLength: 4 },
  ),
  truncateTo: fc.option(fc.nat(), { nil: undefined }),
  cuts: fc.array(fc.nat(4 * MIB), { maxLength: 6 }),
});
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(seed: Buffer, m: Mutation, keep: (offset: number) => boolean = () => false): Buffer {
  const data = Buffer.from(seed);
  for (const { at, xor } of m.flips) if (at < data.length && !keep(at)) data[at]! ^= xor;
  for (const { at, value } of m.words) {
    if (at + 8 <= data.length && ![...Array(8).keys()].some((i) => keep(at + i)))
      data.writeBigUInt64BE(value, at);
  }
  return m.truncateTo === undefined ? data : data.subarray(0, m.truncateTo % (data.length + 1));
}

/** Inspections that passed assertSane, and the slowest one and the most memory one kept (for the report). */
const inspected = { count: 0, refused: 0, slowestMs: 0, mostRetained: 0 };

/** What must hold of any inspection, whatever the input. */
function assertSane(fed: Fed): void {
  const { result } = fed;
  assert.ok((DISK_FORMATS as readonly string[]).includes(result.format), result.format);
  assert.ok(
    result.virtualSize === null || (Number.isSafeInteger(result.virtualSize) && result.virtualSize >= 0),
    `virtual size ${result.virtualSize}`,
  );
  assert.ok(result.problems.every((p) => typeof p === 'string' && p.length > 0));
  assert.ok(fed.retained <= MAX_RETAINED, `retained ${fed.retained} bytes`);
  assert.ok(fed.ms < MAX_MS_PER_INSPECTION, `took ${fed.ms.toFixed(0)} ms`);
  inspected.count += 1;
  if (acceptedAs(result).length === 0) inspected.refused += 1;
  inspected.slowestMs = Math.max(inspected.slowestMs, fed.ms);
  inspected.mostRetained = Math.max(inspected.mostRetained, fed.retained);
}

/** Whether the upload would be stored under some declared format. */
function acceptedAs(result: InspectionResult): string[] {
  return DISK_FORMATS.filter((declared) => {
    try {
      assertImageAcceptable(declared, result);
      return true;
    } catch (error) {
      if (!isFerryError(error)) throw error;
      return false;
    }
  });
}

const options = { numRuns: RUNS };
const PROPERTIES = 5;
/** The tests below that passed: the report's row is recorded only when all did. */
let passed = 0;
const TESTS = 6;
function fuzzTest(name: string, body: () => void): void {
  test(name, () => {
    body();
    passed += 1;
  });
}

after(async () => {
  if (passed < TESTS) return;
  await recordReliability({
    class: 'input',
    subject: 'format inspector fed mutated qcow2, vmdk, vhd, vhdx and iso images (fast-check)',
    tried: `${PROPERTIES} properties x ${RUNS} runs: ${inspected.count} inspections of flipped, overwritten, truncated and re-cut images, random bytes behind each magic, qcow2 headers in ISO system areas, each seed declared as every other format`,
    held: `${inspected.count} of ${inspected.count} answered without a throw (${inspected.refused} refused under every declared format); no backing file, data file, flat extent, polyglot or lying format accepted`,
    figures: {
      'slowest inspection': `${inspected.slowestMs.toFixed(0)} ms (bound ${MAX_MS_PER_INSPECTION} ms)`,
      'most memory held': `${(inspected.mostRetained / MIB).toFixed(1)} MiB (bound ${MAX_RETAINED / MIB} MiB)`,
    },
    file: 'test/unit/formats/inspector.fuzz.test.ts',
  });
});

fuzzTest('any mutation of any format is answered, within the memory bound and in time', () => {
  const names = Object.keys(seeds) as Array<keyof Seeds>;
  fc.assert(
    fc.property(fc.constantFrom(...names), mutation, (name, m) => {
      const fed = feed(mutate(seeds[name], m), m.cuts);
      assertSane(fed);
      // Accepted at most as the one format detected, and only without problems.
      const accepted = acceptedAs(fed.result);
      assert.ok(accepted.length <= 1);
      if (accepted.length === 1) {
        assert.equal(accepted[0], fed.result.format);
        assert.deepEqual(fed.result.problems, []);
      }
    }),
    options,
  );
});

fuzzTest('random bytes and random headers are answered too', () => {
  fc.assert(
    fc.property(
      fc.constantFrom('QFI\xfb', 'KDMV', 'vhdxfile', 'conectix', '# Disk DescriptorFile\n', ''),
      fc.uint8Array({ maxLength: 70_000 }),
      fc.array(fc.nat(70_000), { maxLength: 5 }),
      (magic, body, cuts) => assertSane(feed(Buffer.concat([Buffer.from(magic, 'latin1'), body]), cuts)),
    ),
    options,
  );
});

fuzzTest(
  'a qcow2 magic is never stored as raw data: a garbled qcow2 is qcow2 with a problem or refused',
  () => {
    fc.assert(
      fc.property(mutation, (m) => {
        const data = mutate(seeds.qcow2, m, (offset) => offset < 4);
        fc.pre(data.length >= 4);
        const fed = feed(data, m.cuts);
        assertSane(fed);
        assert.ok(!acceptedAs(fed.result).includes('raw'), 'accepted as raw');
      }),
      options,
    );
  },
);

fuzzTest('a backing file, a data file or a flat extent stays refused whatever else the bytes say', () => {
  // Mutations outside the header fields that name the hostile part (the first 512 bytes hold them, and the
  // extensions and the backing name follow in the first cluster's header area for these images).
  const outsideHeader = (offset: number) => offset < 4096;
  fc.assert(
    fc.property(
      fc.constantFrom('qcow2Backing', 'qcow2DataFile', 'vmdkFlatDescriptor') as fc.Arbitrary<keyof Seeds>,
      mutation,
      (name, m) => {
        const data = mutate(seeds[name], { ...m, truncateTo: undefined }, outsideHeader);
        const fed = feed(data, m.cuts);
        assertSane(fed);
        assert.deepEqual(acceptedAs(fed.result), [], `${name} accepted after mutation`);
      },
    ),
    options,
  );
});

fuzzTest('a qcow2 header placed anywhere in an ISO system area is a refused polyglot', () => {
  fc.assert(
    fc.property(fc.nat(31), fc.array(fc.nat(4 * MIB), { maxLength: 4 }), (sector, cuts) => {
      const iso = Buffer.from(seeds.iso);
      // qcow2's magic is read at offset 0, so the header goes there; the sector varies what else is kept.
      seeds.qcow2.copy(iso, 0, 0, 512 + sector * 1024);
      const fed = feed(iso, cuts);
      assertSane(fed);
      assert.deepEqual(acceptedAs(fed.result), []);
      assert.ok(fed.result.problems.some((p) => /more than one format/.test(p)));
    }),
    options,
  );
});

fuzzTest('a declared format that lies is refused: each seed under every other format', () => {
  for (const name of ['qcow2', 'vmdk', 'vhd', 'vhdx', 'iso'] as const) {
    const fed = feed(seeds[name], []);
    assert.equal(fed.result.format, name);
    assert.deepEqual(acceptedAs(fed.result), [name], `${name} is accepted as itself only`);
  }
});
