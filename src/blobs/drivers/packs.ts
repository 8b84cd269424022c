/**
 * Pack files: the fs driver's objects, appended to a few large files and made durable in groups.
 *
 * Why: with one file per object and one fdatasync each, a store writes at (flush latency × objects ÷ syncs
 * in flight). On the dev VM's disk a flush took 1-14 ms depending on the hour, so 2 GiB of 1 MiB chunks took
 * from 2 s to 60 s. Here the bytes of many objects share one fdatasync, and a writer waits for one only at
 * its commit points (a manifest, a recorded progress mark): the flush count per GiB is bounded by the
 * writers' commit points, not by the object count.
 *
 * ```
 * <root>/.packs/                        a name no key can have (keys never start with '.')
 *   LOCK                                pid of the process using the folder
 *   <time>-<pid>-<rand>.pack            records, each at a 4 KiB-aligned offset, padded to 4 KiB
 *   <time>-<pid>-<rand>.idx             one JSON line per record made durable, or per record deleted:
 *                                       {"k":key,"o":offset,"n":length,"t":ms} / {"d":key,"o":offset}
 * ```
 *
 * The barrier (`barrier()`): fdatasync every pack with records written since the last one, then append
 * their index lines, then fdatasync those index files. An index line is written only after its bytes are
 * durable, so every line found after a crash names complete bytes; a record without a line (written after
 * the last barrier) is lost, and its pack is truncated at start. Deletes queue a line (index lines of a
 * pack are appended in the order they were made, on the thread pool) and become durable with the next barrier: a delete lost in a crash leaves garbage for the next collection, as an
 * unsynced unlink did. Packs written by a process are never appended to by another: each start opens new
 * ones, so recovery never has to find where a pack's last good record ends.
 *
 * Space: a deleted record stays in its pack until `compact` copies the pack's live records into the current
 * packs (a barrier), points the index at the copies and removes the pack.
 * @module
 */
import { constants as fsConstants, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { appendFile, open, readdir, stat, truncate, unlink, type FileHandle } from 'node:fs/promises';
import { makePrivateDir, PRIVATE_FILE_MODE } from '../../lib/private-files.js';
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { CompactReport } from '../driver.js';
import { DEFAULT_COMPACT_THRESHOLD, DEFAULT_PACK_BYTES } from '../../config/storage.js';
import { alignUp, DIRECT_IO_ALIGNMENT, isAligned, isErrno, type StagePool } from './direct-io.js';

/** Where the packs live, under the driver's root. */
export const PACKS_DIR = '.packs';

/**
 * Packs written at once (default of PackStoreOptions.stripes). ext4 serialises direct writes that extend a
 * file (the inode lock), so parallel writers need several files; 4 keeps two cores' disk queue full.
 */
export const DEFAULT_PACK_STRIPES = 4;

export interface PackStoreOptions {
  readonly root: string;
  /** fdatasync at barriers (default true); see FsBlobDriverOptions.sync. */
  readonly sync: boolean;
  /** Aligned staging buffers, or undefined when the filesystem refuses O_DIRECT (then all is buffered). */
  readonly stages: StagePool | undefined;
  readonly stageWaitMs: number;
  readonly packBytes?: number;
  readonly stripes?: number;
}

interface Record {
  readonly pack: Pack;
  readonly key: string;
  readonly offset: number;
  readonly length: number;
  /** When the record was written or last re-put (ms): garbage collection spares recent objects. */
  time: number;
  /** unsynced: written, waiting for a barrier; syncing: in one now; synced: its index line is written. */
  state: 'unsynced' | 'syncing' | 'synced';
  /** Deleted before its index line was written: the line is never written. */
  dropped: boolean;
}

interface Pack {
  readonly id: string;
  readonly dataPath: string;
  readonly idxPath: string;
  /** The write handle while the pack takes records or has records waiting for a barrier. */
  writer: Promise<FileHandle> | undefined;
  /** Records in a barrier now (the writer stays open for its fdatasync). */
  syncing: number;
  /** Bytes reserved (the file's size once the writes in flight land). */
  tail: number;
  /** Aligned bytes of records the index points at. */
  liveBytes: number;
  writesInFlight: number;
  /** No more records go in (full, or written by an earlier process). */
  sealed: boolean;
  /** Its files' directory entries are not fsync'd yet. */
  isNew: boolean;
  unsynced: Record[];
  /** Index lines appended since the index file was last fsync'd. */
  idxDirty: boolean;
  /** Index lines made and not yet appended, in order (see appendLines). */
  idxQueue: string[];
  /** The appends of idxQueue in progress; it never rejects (idxFailure says). */
  idxAppends: Promise<void>;
  /** Why the last append failed; its lines are back at the head of idxQueue for the next barrier. */
  idxFailure: Error | undefined;
  /** Being rewritten by compact. */
  compacting: boolean;
  /** Removed by compact: no new read opens it (reads in flight keep their handle, valid after unlink). */
  removed: boolean;
}

/**
 * Read handles kept open, per pack and open mode: a replication source reads every chunk of an image, and
 * an open and a close per chunk cost its main thread ~0.2 s per GiB (`--cpu-prof` of the replicate bench).
 * Bounded, least recently used first out, so a region of many packs stays well under the open-file limit.
 */
const MAX_READ_HANDLES = 64;

/** A cached handle and the reads using it (it is closed when evicted or its pack removed, once unused). */
interface ReadHandle {
  readonly handle: Promise<FileHandle>;
  users: number;
  retired: boolean;
}

function packFile(dir: string, id: string, ext: 'pack' | 'idx'): string {
  return join(dir, `${id}.${ext}`);
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return isErrno(error, 'EPERM'); // exists, owned by someone else
  }
}

/**
 * Takes the folder for this process: two processes appending to one index would each miss the other's
 * records. A lock left by a dead process (a crash, a SIGKILL) is taken over.
 * @throws Error naming the process that holds it
 */
function takeLock(dir: string): void {
  const file = join(dir, 'LOCK');
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
    if (Number.isSafeInteger(pid) && pid !== process.pid && isProcessAlive(pid))
      throw new Error(`the blob folder ${dir} is in use by process ${pid}; stop it first`);
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
  }
  writeFileSync(file, String(process.pid), { mode: PRIVATE_FILE_MODE });
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The index lines of a pack file in order; a torn or damaged line (the unsynced tail of a crash) is skipped. */
function readIndexLines(
  path: string,
): Array<{ k: string; o: number; n: number; t: number } | { d: string; o: number }> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return [];
    throw error;
  }
  const lines = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    const v = value as { k?: unknown; d?: unknown; o?: unknown; n?: unknown; t?: unknown };
    if (!Number.isSafeInteger(v.o) || (v.o as number) < 0 || (v.o as number) % DIRECT_IO_ALIGNMENT !== 0)
      continue;
    if (typeof v.d === 'string') lines.push({ d: v.d, o: v.o as number });
    else if (
      typeof v.k === 'string' &&
      Number.isSafeInteger(v.n) &&
      (v.n as number) >= 0 &&
      Number.isFinite(v.t)
    )
      lines.push({ k: v.k, o: v.o as number, n: v.n as number, t: v.t as number });
  }
  return lines;
}

export class PackStore {
  private readonly dir: string;
  private readonly index = new Map<string, Record>();
  private readonly packs = new Map<string, Pack>();
  private readonly stripes: Array<Pack | undefined>;
  private nextStripe = 0;
  private readonly packBytes: number;
  /** Barriers run one after another, so one resolves only after every earlier one has. */
  private barriers: Promise<void> = Promise.resolve();

  private constructor(private readonly options: PackStoreOptions) {
    this.dir = join(options.root, PACKS_DIR);
    this.packBytes = options.packBytes ?? DEFAULT_PACK_BYTES;
    this.stripes = new Array<Pack | undefined>(Math.max(1, options.stripes ?? DEFAULT_PACK_STRIPES));
  }

  /** Opens the packs under `options.root`, recovering from a crash: see the module comment. */
  static async open(options: PackStoreOptions): Promise<PackStore> {
    const store = new PackStore(options);
    await makePrivateDir(store.dir);
    takeLock(store.dir);
    await store.load();
    return store;
  }

  private newPack(id: string, sealed: boolean): Pack {
    const pack: Pack = {
      id,
      dataPath: packFile(this.dir, id, 'pack'),
      idxPath: packFile(this.dir, id, 'idx'),
      writer: undefined,
      syncing: 0,
      tail: 0,
      liveBytes: 0,
      writesInFlight: 0,
      sealed,
      isNew: !sealed,
      unsynced: [],
      idxDirty: false,
      idxQueue: [],
      idxAppends: Promise.resolve(),
      idxFailure: undefined,
      compacting: false,
      removed: false,
    };
    this.packs.set(id, pack);
    return pack;
  }

  private async load(): Promise<void> {
    const names = (await readdir(this.dir)).sort(); // ids start with the time: oldest first
    const ids = new Set<string>();
    for (const name of names) {
      const match = /^(.+)\.(pack|idx)$/.exec(name);
      if (match) ids.add(match[1]!);
    }
    for (const id of ids) {
      const pack = this.newPack(id, true);
      const records = new Map<string, Record>(); // by `${offset}/${key}`
      let end = 0;
      for (const line of readIndexLines(pack.idxPath)) {
        if ('d' in line) {
          records.delete(`${line.o}/${line.d}`);
          continue;
        }
        end = Math.max(end, line.o + alignUp(line.n));
        records.set(`${line.o}/${line.k}`, {
          pack,
          key: line.k,
          offset: line.o,
          length: line.n,
          time: line.t,
          state: 'synced',
          dropped: false,
        });
      }
      let size = 0;
      try {
        size = (await stat(pack.dataPath)).size;
      } catch (error) {
        if (!isErrno(error, 'ENOENT')) throw error;
      }
      const stale: Record[] = [];
      for (const record of records.values()) {
        // A line whose bytes are not in the file (the file lost them: not Ferry's crash model, but a line
        // must never serve bytes that are not there).
        if (record.offset + record.length > size) continue;
        const earlier = this.index.get(record.key);
        if (earlier !== undefined) stale.push(earlier); // a copy left by a compaction a crash cut short
        this.index.set(record.key, record);
        pack.liveBytes += alignUp(record.length);
      }
      for (const record of stale) this.forget(record);
      if (pack.liveBytes === 0) {
        await this.removePackFiles(pack);
        continue;
      }
      // Records written after the last barrier have no line: their bytes are garbage.
      if (size > end) await truncate(pack.dataPath, end);
      pack.tail = Math.min(size, end);
    }
  }

  private async removePackFiles(pack: Pack): Promise<void> {
    this.packs.delete(pack.id);
    pack.removed = true;
    for (const direct of [true, false]) {
      const key = `${pack.id}:${direct}`;
      const cached = this.readHandles.get(key);
      if (cached === undefined) continue;
      this.readHandles.delete(key);
      this.retire(cached);
    }
    // Closed here, on the thread pool, never left to the garbage collector: V8 closes a lost FileHandle on
    // the main thread, and the last close of an unlinked file is where the filesystem frees its blocks
    // (one such close held a region's event loop 230 ms, `--trace-gc`).
    if (pack.writer !== undefined) {
      const writer = pack.writer;
      pack.writer = undefined;
      await writer.then((handle) => handle.close()).catch(() => undefined);
    }
    // No append may land after the unlink (it would make the index file again).
    pack.idxQueue = [];
    await pack.idxAppends;
    // The index first: a pack file without one is garbage to the next start, never records without bytes.
    for (const path of [pack.idxPath, pack.dataPath]) {
      await unlink(path).catch((error: unknown) =>
        isErrno(error, 'ENOENT') ? undefined : Promise.reject(error),
      );
    }
  }

  lookup(key: string): Record | undefined {
    return this.index.get(key);
  }

  /** Every key stored, in no order; yields to the event loop now and then so a long walk blocks nothing. */
  async *keys(prefix: string): AsyncGenerator<string> {
    let count = 0;
    for (const key of [...this.index.keys()]) {
      if (!key.startsWith(prefix) || !this.index.has(key)) continue;
      yield key;
      if (++count % 1000 === 0) await yieldToEventLoop();
    }
  }

  /** Refreshes a record's age (in memory: after a restart its age is its write's). False if absent. */
  touch(key: string): boolean {
    const record = this.index.get(key);
    if (record === undefined) return false;
    record.time = Date.now();
    return true;
  }

  /**
   * Appends `data` to a pack and makes it visible under `key`; durable after the next barrier. The caller
   * has checked that `key` is absent and keeps one write per key in flight.
   */
  async write(key: string, data: Buffer): Promise<void> {
    const record = await this.append(key, data, Date.now());
    this.index.set(key, record);
    record.pack.liveBytes += alignUp(record.length);
  }

  /** A pack that takes records: the next stripe's, replaced when full. */
  private stripePack(length: number): Pack {
    const slot = this.nextStripe;
    this.nextStripe = (this.nextStripe + 1) % this.stripes.length;
    let pack = this.stripes[slot];
    if (pack !== undefined && pack.tail > 0 && pack.tail + alignUp(length) > this.packBytes) {
      pack.sealed = true;
      this.closeWriterIfIdle(pack);
      pack = undefined;
    }
    if (pack === undefined) {
      const id = `${Date.now().toString().padStart(15, '0')}-${process.pid}-${randomBytes(4).toString('hex')}`;
      pack = this.newPack(id, false);
      this.stripes[slot] = pack;
      writeFileSync(pack.idxPath, '', { flag: 'wx', mode: PRIVATE_FILE_MODE });
    }
    if (pack.writer === undefined) {
      const direct = this.options.stages !== undefined ? fsConstants.O_DIRECT : 0;
      const { O_WRONLY, O_CREAT } = fsConstants;
      pack.writer = open(pack.dataPath, O_WRONLY | O_CREAT | direct, PRIVATE_FILE_MODE);
      pack.writer.catch(() => undefined);
    }
    return pack;
  }

  private closeWriterIfIdle(pack: Pack): void {
    const busy = pack.writesInFlight > 0 || pack.unsynced.length > 0 || pack.syncing > 0;
    if (!pack.sealed || busy || pack.writer === undefined) return;
    const writer = pack.writer;
    pack.writer = undefined;
    writer.then((handle) => handle.close()).catch(() => undefined);
  }

  private async append(key: string, data: Buffer, time: number): Promise<Record> {
    // No await between choosing the pack and reserving the offset: a compaction sealing it sees the write.
    const pack = this.stripePack(data.length);
    const offset = pack.tail;
    pack.tail += alignUp(data.length);
    pack.writesInFlight++;
    try {
      await this.writeAt(await pack.writer!, data, offset);
    } finally {
      pack.writesInFlight--;
    }
    const record: Record = {
      pack,
      key,
      offset,
      length: data.length,
      time,
      state: 'unsynced',
      dropped: false,
    };
    pack.unsynced.push(record);
    return record;
  }

  private async writeAt(handle: FileHandle, data: Buffer, position: number): Promise<void> {
    const { stages } = this.options;
    if (data.length === 0) return;
    if (stages === undefined) return writeAll(handle, data, position);
    // Memory from `allocate` is written as it is; anything else is copied through a stage, zero-padded.
    if (isAligned(data) && data.length % DIRECT_IO_ALIGNMENT === 0) return writeAll(handle, data, position);
    const stage = await stages.acquire();
    try {
      for (let at = 0; at < data.length; at += stage.length) {
        const copied = data.copy(stage, 0, at, Math.min(at + stage.length, data.length));
        const padded = alignUp(copied);
        stage.fill(0, copied, padded);
        await writeAll(handle, stage.subarray(0, padded), position + at);
      }
    } finally {
      stages.release(stage);
    }
  }

  /**
   * Makes durable every record whose write resolved before this call, and every delete made before it. See
   * the module comment for the order. Concurrency-safe; a failed barrier leaves its records to the next.
   */
  barrier(): Promise<void> {
    const run = this.barriers.then(() => this.runBarrier());
    this.barriers = run.catch(() => undefined);
    return run;
  }

  private async runBarrier(): Promise<void> {
    const packs = [...this.packs.values()].filter((pack) => pack.unsynced.length > 0);
    const batches = packs.map((pack) => {
      const records = pack.unsynced;
      pack.unsynced = [];
      pack.syncing += records.length;
      for (const record of records) record.state = 'syncing';
      return { pack, records };
    });
    try {
      if (this.options.sync) await Promise.all(packs.map(async (pack) => (await pack.writer!).datasync()));
    } catch (error) {
      for (const { pack, records } of batches) {
        pack.syncing -= records.length;
        for (const record of records) record.state = 'unsynced';
        pack.unsynced.unshift(...records.filter((record) => !record.dropped));
      }
      throw error;
    }
    for (const { pack, records } of batches) {
      const lines = records
        .filter((record) => !record.dropped)
        .map((r) => JSON.stringify({ k: r.key, o: r.offset, n: r.length, t: r.time }) + '\n');
      for (const record of records) record.state = 'synced';
      pack.syncing -= records.length;
      if (lines.length > 0) this.appendLines(pack, lines.join(''));
      this.closeWriterIfIdle(pack);
    }
    if (!this.options.sync) {
      await Promise.all([...this.packs.values()].map((pack) => this.indexAppended(pack)));
      return;
    }
    const dirty = [...this.packs.values()].filter((pack) => pack.idxDirty);
    const fresh = dirty.some((pack) => pack.isNew);
    for (const pack of dirty) {
      pack.idxDirty = false;
      pack.isNew = false;
    }
    try {
      await Promise.all(dirty.map((pack) => this.indexAppended(pack)));
      await Promise.all([
        ...dirty.map((pack) => fsyncPath(pack.idxPath)),
        ...(fresh ? [fsyncPath(this.dir)] : []),
      ]);
    } catch (error) {
      for (const pack of dirty) pack.idxDirty = true;
      throw error;
    }
  }

  /**
   * Appends `lines` to the pack's index after every line made before them (a delete must land before a
   * re-put of the same key at the same offset), on the thread pool. Not appendFileSync on the main thread:
   * one open, write and close per deleted chunk held a region's event loop 40-70 ms for a collection of
   * 2,000 chunks (`--cpu-prof`), and an append waits while a barrier fsyncs the same file, which on a slow
   * disk held it for 0.6-0.9 s (bench event-loop rows). Lines made while an append runs go in the next one.
   */
  private appendLines(pack: Pack, lines: string): void {
    pack.idxDirty = true;
    pack.idxQueue.push(lines);
    if (pack.idxQueue.length === 1) this.scheduleAppend(pack); // else one is due already and takes these
  }

  private scheduleAppend(pack: Pack): void {
    pack.idxAppends = pack.idxAppends.then(async () => {
      if (pack.idxQueue.length === 0) return;
      const text = pack.idxQueue.join('');
      pack.idxQueue = [];
      try {
        await appendFile(pack.idxPath, text);
        pack.idxFailure = undefined;
      } catch (error) {
        pack.idxQueue.unshift(text); // the next barrier tries again
        pack.idxFailure = error as Error;
      }
    });
  }

  /** Resolves once every index line made so far is appended; rejects if an append failed. */
  private async indexAppended(pack: Pack): Promise<void> {
    if (pack.idxQueue.length > 0) this.scheduleAppend(pack); // lines a failed append left
    await pack.idxAppends;
    if (pack.idxFailure !== undefined) throw pack.idxFailure;
  }

  /** Deletes the object under `key`, if any (durable with the next barrier). */
  remove(key: string): boolean {
    const record = this.index.get(key);
    if (record === undefined) return false;
    this.forget(record);
    return true;
  }

  /** Drops `record` from the index (if it is the one there) and records its deletion. */
  private forget(record: Record): void {
    if (this.index.get(record.key) === record) this.index.delete(record.key);
    const { pack } = record;
    pack.liveBytes -= alignUp(record.length);
    if (record.state === 'unsynced') {
      const at = pack.unsynced.indexOf(record);
      if (at >= 0) pack.unsynced.splice(at, 1);
      record.dropped = true;
    } else if (record.state === 'syncing') {
      record.dropped = true;
    } else {
      this.appendLines(pack, JSON.stringify({ d: record.key, o: record.offset }) + '\n');
    }
  }

  /**
   * Calls `use` with the record's bytes: lent from a stage read with O_DIRECT when it fits one (see
   * `direct-io.ts`), else read into a buffer of its own. Undefined if `key` is absent.
   */
  async read<T>(key: string, use: (data: Buffer) => Promise<T>): Promise<{ value: T } | undefined> {
    // A compaction may remove the record's pack between the lookup and the open: look again once.
    for (let attempt = 0; ; attempt++) {
      const record = this.index.get(key);
      if (record === undefined) return undefined;
      try {
        return { value: await this.readRecord(record, use) };
      } catch (error) {
        if (!isErrno(error, 'ENOENT') || attempt > 0) throw error;
      }
    }
  }

  private async readRecord<T>(record: Record, use: (data: Buffer) => Promise<T>): Promise<T> {
    const { stages, stageWaitMs } = this.options;
    const padded = alignUp(record.length);
    const stage = stages !== undefined && padded > 0 ? await stages.acquire(stageWaitMs) : undefined;
    if (stage !== undefined && padded <= stage.length) {
      let data: Buffer;
      try {
        data = await this.readAt(record, true, stage, padded);
      } catch (error) {
        stages!.release(stage);
        throw error;
      }
      try {
        return await use(data);
      } finally {
        stages!.release(stage);
      }
    }
    if (stage !== undefined) stages!.release(stage);
    return use(await this.readAt(record, false, Buffer.allocUnsafe(record.length), record.length));
  }

  private readonly readHandles = new Map<string, ReadHandle>();

  private retire(cached: ReadHandle): void {
    cached.retired = true;
    if (cached.users === 0) cached.handle.then((handle) => handle.close()).catch(() => undefined);
  }

  /**
   * Reads `length` bytes from the record's offset into `into` (O_DIRECT if `direct`); the record's bytes, as
   * a view of `into`. Rejects with ENOENT if the pack was removed (the caller looks the key up again).
   */
  private async readAt(record: Record, direct: boolean, into: Buffer, length: number): Promise<Buffer> {
    const { pack } = record;
    if (pack.removed) throw Object.assign(new Error(`pack ${pack.id} was removed`), { code: 'ENOENT' });
    const key = `${pack.id}:${direct}`;
    let cached = this.readHandles.get(key);
    if (cached === undefined) {
      const flags = fsConstants.O_RDONLY | (direct ? fsConstants.O_DIRECT : 0);
      cached = { handle: open(pack.dataPath, flags), users: 0, retired: false };
      cached.handle.catch(() => this.readHandles.delete(key));
      if (this.readHandles.size >= MAX_READ_HANDLES) {
        const [oldestKey, oldest] = this.readHandles.entries().next().value as [string, ReadHandle];
        this.readHandles.delete(oldestKey);
        this.retire(oldest);
      }
    } else {
      this.readHandles.delete(key); // re-inserted below: most recently used last
    }
    this.readHandles.set(key, cached);
    cached.users++;
    try {
      const handle = await cached.handle;
      let got = 0;
      while (got < length) {
        const { bytesRead } = await handle.read(into, got, length - got, record.offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (got < record.length) throw new Error(`pack ${pack.id} ends inside the record of ${record.key}`);
      return into.subarray(0, record.length);
    } finally {
      cached.users--;
      if (cached.retired) this.retire(cached);
    }
  }

  /** Sizes of what the packs hold, for reports and tests. */
  usage(): { packs: number; bytes: number; liveBytes: number } {
    let bytes = 0;
    let liveBytes = 0;
    for (const pack of this.packs.values()) {
      bytes += pack.tail;
      liveBytes += pack.liveBytes;
    }
    return { packs: this.packs.size, bytes, liveBytes };
  }

  /**
   * Reclaims the space of deleted records: removes sealed packs that hold nothing live, and rewrites those
   * whose garbage is at least `threshold` of their bytes (their live records are appended to the current
   * packs, made durable by a barrier, and only then does the index point at the copies and the old pack go).
   * A record deleted meanwhile stays deleted; a live record is readable throughout.
   */
  async compact(threshold = DEFAULT_COMPACT_THRESHOLD): Promise<CompactReport> {
    const report: CompactReport = { packsRemoved: 0, bytesReclaimed: 0, bytesCopied: 0 };
    const candidates = [...this.packs.values()].filter(
      (pack) =>
        !pack.compacting &&
        pack.writesInFlight === 0 &&
        pack.unsynced.length === 0 &&
        pack.syncing === 0 &&
        pack.tail > 0 &&
        (pack.tail - pack.liveBytes) / pack.tail >= threshold,
    );
    // A pack still taking writes is sealed first: its live records move to fresh packs like any other's.
    for (const pack of candidates) {
      const slot = this.stripes.indexOf(pack);
      if (slot >= 0) this.stripes[slot] = undefined;
      pack.sealed = true;
      this.closeWriterIfIdle(pack);
    }
    for (const pack of candidates) {
      pack.compacting = true;
      const moved: Array<{ from: Record; to: Record }> = [];
      for (const record of [...this.index.values()].filter((r) => r.pack === pack)) {
        const copy = await this.read(record.key, async (data) => this.append(record.key, data, record.time));
        if (copy === undefined) continue; // deleted meanwhile
        moved.push({ from: record, to: copy.value });
        report.bytesCopied += record.length;
        await yieldToEventLoop();
      }
      await this.barrier();
      for (const { from, to } of moved) {
        to.pack.liveBytes += alignUp(to.length);
        if (this.index.get(from.key) === from) {
          this.index.set(from.key, to);
          from.pack.liveBytes -= alignUp(from.length);
        } else {
          this.forget(to); // deleted while being copied
        }
      }
      if (pack.liveBytes > 0) throw new Error(`pack ${pack.id} still holds live records after compaction`);
      report.packsRemoved++;
      report.bytesReclaimed += pack.tail;
      await this.removePackFiles(pack);
    }
    return report;
  }

  /** Makes every write durable and lets go of the files and the lock. */
  async close(): Promise<void> {
    await this.barrier();
    for (const pack of this.packs.values()) {
      pack.sealed = true;
      this.closeWriterIfIdle(pack);
    }
    for (const cached of this.readHandles.values()) this.retire(cached);
    this.readHandles.clear();
    await unlink(join(this.dir, 'LOCK')).catch(() => undefined);
  }
}

async function writeAll(handle: FileHandle, data: Buffer, position: number): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const { bytesWritten } = await handle.write(data, written, data.length - written, position + written);
    written += bytesWritten;
  }
}
