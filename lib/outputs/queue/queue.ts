/**
 * A durable, bounded, ordered on-disk queue, generic over what it holds, for the pushes: an
 * append-only log of records (framed as `queue_record.ts` describes, each appended and synced
 * before its `push` resolves) and a small file holding the sequence number through which every
 * record is done (delivered or dropped). Only an index of offsets stays in memory; records are
 * read back when they are sent.
 *
 * Appends are group commits: the records pushed while a write is in flight are written together
 * by the next one, with one write and one sync, so a source faster than the disk costs few syncs.
 * At most `maxWaiting` records are pushed and not yet written; beyond that a push is refused and
 * counted (`overrun`), so memory stays bounded whatever the pace of the source.
 *
 * What it guarantees:
 * - At least once. A record leaves only through `remove`, after its delivery. A crash between a
 *   delivery and `remove` sends that record again: at most one duplicate per record in flight.
 * - A leased record (in flight) is never dropped: a full queue drops the oldest records after it.
 * - No failed write is fatal. Records that cannot be appended are counted as lost and their
 *   `push` resolves `false`. The delivered mark is overwritten in place (it needs no new space
 *   once it has its block); when it cannot be written it is kept in memory and written again by
 *   the next operation. `stats.writeError` says what fails until it works again.
 * - A damaged record is skipped and counted when the log is opened, and the records after it are
 *   kept; the damage is then blanked out (or a torn end cut off) so that it is counted once.
 * - An empty queue truncates its log, which frees the disk without needing any space.
 *
 * @module
 */

import { concatBytes } from "../../bytes.ts";
import { decodeRecord, encodeRecord, type QueueRecord, scanLog } from "./queue_record.ts";

export type { QueueRecord } from "./queue_record.ts";

/** Options for {@linkcode DurableQueue.open}. */
export interface QueueOptions {
  /** The directory of the queue's files (created when missing). */
  dir: string;
  /** File name prefix, e.g. `dsmr-reader`. */
  name: string;
  /**
   * Most records kept; beyond that the oldest are dropped.
   * @default {200000}
   */
  maxRecords?: number;
  /**
   * Most bytes kept; beyond that the oldest are dropped.
   * @default {268435456}
   */
  maxBytes?: number;
  /**
   * Most records pushed and not yet written (waiting, or in the write under way); beyond that a
   * push is refused and counted as overrun.
   * @default {1000}
   */
  maxWaiting?: number;
  /** Aborted when the queue is about to close: a compaction in progress gives up at once. */
  signal?: AbortSignal;
}

/** What a queue holds and what it could not keep, since it was opened. */
export interface QueueStats {
  /** Records waiting. */
  length: number;
  /** Bytes of the records waiting. */
  bytes: number;
  /** When the oldest waiting record was queued (ms since the epoch), if any. */
  oldestQueuedAt: number | undefined;
  /** Records dropped, oldest first, because the queue was full. */
  dropped: number;
  /** Records lost because they could not be written (a full disk, say). */
  lost: number;
  /** Records refused because they came faster than the disk took them (`maxWaiting` waited). */
  overrun: number;
  /** Records skipped because they were damaged in the log. */
  corrupt: number;
  /** What fails to be written, while it fails (undefined when all is well). */
  writeError: string | undefined;
}

/** The kinds of write that can fail: each recovers on its own. */
type WriteKind = "append" | "mark" | "tidy";

/** A pushed record until it is written. */
interface Waiting<T> {
  item: T;
  queuedAt: number;
}

interface IndexEntry {
  seq: number;
  queuedAt: number;
  offset: number;
  length: number;
}

/** The delivered mark is a right-aligned number of this many characters and a newline. */
const MARK_WIDTH = 16;
/** Delivered records to pile up at the head of the log before it is worth compacting. */
const COMPACT_AFTER = 1024;

/** Bytes copied at a time when the log is compacted, and synced at a time. */
const COPY_CHUNK = 1024 * 1024;
const SYNC_EVERY = 16 * COPY_CHUNK;

const encoder = new TextEncoder();
/** What a refused push resolves to: one promise for all of them, as it never changes. */
const NOT_KEPT: Promise<boolean> = Promise.resolve(false);

/** The durable queue; see the module documentation. */
export class DurableQueue<T> {
  readonly #logPath: string;
  readonly #markPath: string;
  readonly #maxRecords: number;
  readonly #maxBytes: number;
  readonly #maxWaiting: number;
  readonly #signal: AbortSignal | undefined;
  #file: Deno.FsFile;
  /** Records from `#head` on wait, oldest first; the first `#leased` of them are in flight. */
  #index: IndexEntry[] = [];
  #head = 0;
  #leased = 0;
  #bytes = 0;
  /** Where the next record goes: bytes after it are what a failed append left. */
  #end = 0;
  #partialTail = false;
  #nextSeq = 1;
  /** The delivered mark as last written; -1 when the file lacks its fixed-width form. */
  #markOnDisk: number;
  #compactFrom = COMPACT_AFTER;
  #lock: Promise<unknown> = Promise.resolve();
  /** Pushed records not yet written, oldest first; the append scheduled to write them. */
  #waiting: Waiting<T>[] = [];
  #nextAppend: Promise<boolean> | undefined;
  /** Records in the append under way. */
  #writing = 0;
  #dropped = 0;
  #lost = 0;
  #overrun = 0;
  #corrupt = 0;
  readonly #failures = new Map<WriteKind, string>();

  private constructor(
    file: Deno.FsFile,
    paths: { log: string; mark: string },
    options: QueueOptions,
    markOnDisk: number,
  ) {
    this.#file = file;
    this.#logPath = paths.log;
    this.#markPath = paths.mark;
    this.#maxRecords = options.maxRecords ?? 200_000;
    this.#maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
    this.#maxWaiting = options.maxWaiting ?? 1000;
    this.#signal = options.signal;
    this.#markOnDisk = markOnDisk;
  }

  /**
   * Opens (or creates) a queue and recovers what a previous run left: damaged records are
   * skipped and counted, the records after them kept.
   *
   * @param options Where, and how large.
   * @returns The queue, holding every record not yet delivered.
   * @throws When the directory or its files cannot be created or read.
   */
  static async open<T>(options: QueueOptions): Promise<DurableQueue<T>> {
    await Deno.mkdir(options.dir, { recursive: true });
    const paths = {
      log: `${options.dir}/${options.name}.queue.jsonl`,
      mark: `${options.dir}/${options.name}.delivered`,
    };
    let markText = "";
    try {
      markText = await Deno.readTextFile(paths.mark);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    const mark = Number(markText.trim()) || 0;
    let bytes = new Uint8Array();
    try {
      bytes = await Deno.readFile(paths.log);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    let scan = scanLog(bytes, mark);
    // The newest record stays in the log until it is delivered, so a mark beyond it is damaged:
    // send everything again rather than silently skip what it would cover.
    const newest = scan.records.reduce((last, record) => Math.max(last, record.seq), 0);
    const delivered = newest > 0 && mark > newest ? 0 : mark;
    if (delivered !== mark) scan = scanLog(bytes, delivered);
    const file = await Deno.open(paths.log, { read: true, write: true, create: true });
    const queue = new DurableQueue<T>(
      file,
      paths,
      options,
      markText.length === MARK_WIDTH + 1 && delivered === mark ? delivered : -1,
    );
    queue.#index = scan.records.filter((record) => record.seq > delivered);
    queue.#bytes = queue.#index.reduce((sum, entry) => sum + entry.length, 0);
    queue.#nextSeq = Math.max(delivered, newest) + 1;
    queue.#corrupt = scan.lostRecords;
    const tail = scan.damaged.at(-1)?.atEnd ? scan.damaged.pop() : undefined;
    queue.#end = tail?.start ?? bytes.length;
    queue.#partialTail = tail !== undefined;
    await queue.#exclusive(async () => {
      await queue.#repair(scan.damaged);
      await queue.#writeMark(); // gives a new mark file its block while there is space
    });
    return queue;
  }

  /** The log file's path, for messages. */
  get path(): string {
    return this.#logPath;
  }

  /** Records waiting. */
  get length(): number {
    return this.#index.length - this.#head;
  }

  /** What the queue holds and what it could not keep. */
  get stats(): QueueStats {
    return {
      length: this.length,
      bytes: this.#bytes,
      oldestQueuedAt: this.#index[this.#head]?.queuedAt,
      dropped: this.#dropped,
      lost: this.#lost,
      overrun: this.#overrun,
      corrupt: this.#corrupt,
      writeError: this.#failures.values().next().value,
    };
  }

  /**
   * Appends an item, together with the others pushed before the next write, and syncs it to
   * disk; drops the oldest records not in flight when the queue is full. Refuses it at once (and
   * counts it as overrun) when `maxWaiting` records already wait for the disk.
   *
   * @param item The item (serialised as JSON).
   * @param queuedAt When it was queued.
   * @returns Whether it is on disk: `false` when it was refused or could not be written (counted
   *   in `stats.overrun` or `stats.lost`). Never rejects.
   */
  push(item: T, queuedAt: number = Date.now()): Promise<boolean> {
    if (this.#waiting.length + this.#writing >= this.#maxWaiting) {
      this.#overrun++;
      return NOT_KEPT;
    }
    this.#waiting.push({ item, queuedAt });
    return this.#nextAppend ??= this.#exclusive(() => this.#appendWaiting());
  }

  /** Resolves once every push so far is on disk or counted, and every other operation done. */
  settled(): Promise<void> {
    return this.#lock.then(() => {});
  }

  /**
   * Reads the oldest waiting records and leases them: until they are removed or released, a full
   * queue drops the records after them, never them. A new lease replaces the previous one.
   *
   * @param max Most records to lease.
   * @returns The records, oldest first (none when the queue is empty).
   */
  lease(max = 1): Promise<QueueRecord<T>[]> {
    return this.#exclusive(() => this.#lease(max));
  }

  /** Ends the lease without removing anything (the delivery failed): the records may be dropped. */
  release(): void {
    this.#leased = 0;
  }

  /**
   * Removes the leased records through `seq` once they have been delivered (or dead-lettered).
   *
   * @param seq The sequence number of the last leased record to remove.
   * @throws When `seq` is not a leased record's (a caller's mistake).
   */
  remove(seq: number): Promise<void> {
    return this.#exclusive(() => this.#remove(seq));
  }

  /** Closes the files once the records waiting are written and other operations done. */
  async close(): Promise<void> {
    await this.#exclusive(() => Promise.resolve(this.#file.close()));
  }

  /** Runs file operations one at a time: they share the file position. */
  #exclusive<R>(operation: () => Promise<R>): Promise<R> {
    const result = this.#lock.then(operation);
    this.#lock = result.catch(() => {}); // the caller gets the error through `result`
    return result;
  }

  /** Writes every record waiting, with one write and one sync: all of them or none. */
  async #appendWaiting(): Promise<boolean> {
    const batch = this.#waiting;
    this.#waiting = [];
    this.#nextAppend = undefined; // pushes from now on wait for the next append
    this.#writing = batch.length;
    await this.#writeMark(); // first, a mark that could not be written before
    const first = this.#nextSeq;
    const lines = batch.map(({ item, queuedAt }, i) =>
      encodeRecord({ seq: first + i, queuedAt, item })
    );
    try {
      if (this.#partialTail) await this.#file.truncate(this.#end);
      this.#partialTail = false;
      await this.#file.seek(this.#end, Deno.SeekMode.Start);
      await writeAll(this.#file, concatBytes(lines));
      await this.#file.syncData();
      this.#failures.delete("append");
    } catch (error) {
      this.#writing = 0;
      this.#lost += batch.length;
      this.#partialTail = true;
      this.#fail("append", `cannot append to "${this.#logPath}"`, error);
      await this.#cutPartialTail();
      return false;
    }
    this.#writing = 0;
    lines.forEach((line, i) => {
      this.#index.push({
        seq: first + i,
        queuedAt: batch[i]!.queuedAt,
        offset: this.#end,
        length: line.length,
      });
      this.#end += line.length;
      this.#bytes += line.length;
    });
    this.#nextSeq += batch.length;
    await this.#dropOverLimits();
    await this.#tidy();
    return true;
  }

  /**
   * Drops the oldest records until the queue is within its limits. The newest record always
   * stays, and so do the leased ones: they move up past the dropped ones, so that order is kept
   * and the head stays a plain counter.
   */
  async #dropOverLimits(): Promise<void> {
    const oldest = this.#head + this.#leased;
    let count = 0;
    let bytes = 0;
    while (
      this.length - this.#leased - count > 1 &&
      (this.length - count > this.#maxRecords || this.#bytes - bytes > this.#maxBytes)
    ) {
      bytes += this.#index[oldest + count]!.length;
      count++;
    }
    if (count === 0) return;
    for (let at = oldest - 1; at >= this.#head; at--) this.#index[at + count] = this.#index[at]!;
    this.#head += count;
    this.#bytes -= bytes;
    this.#dropped += count;
    await this.#writeMark();
  }

  /** A failed append may have written part of its record: cut it off (or before the next). */
  async #cutPartialTail(): Promise<void> {
    try {
      await this.#file.truncate(this.#end);
      this.#partialTail = false;
    } catch {
      // #partialTail stays set: the next append cuts it off first.
    }
  }

  async #lease(max: number): Promise<QueueRecord<T>[]> {
    this.#leased = 0;
    const records: QueueRecord<T>[] = [];
    while (records.length < max && this.#head + this.#leased < this.#index.length) {
      const position = this.#head + this.#leased;
      const entry = this.#index[position]!;
      const line = await this.#read(entry);
      const record = line.length === entry.length ? decodeRecord(line.subarray(0, -1)) : undefined;
      if (record?.seq === entry.seq) {
        records.push(record as QueueRecord<T>);
        this.#leased++;
      } else {
        // Damaged since it was written (the file was changed underneath): skip and count it.
        this.#bytes -= this.#cutOut(position).length;
        this.#corrupt++;
      }
    }
    return records;
  }

  /** A stretch of the log (a record's line, newline included); shorter when the file was cut. */
  async #read(entry: { offset: number; length: number }): Promise<Uint8Array> {
    const buffer = new Uint8Array(entry.length);
    await this.#file.seek(entry.offset, Deno.SeekMode.Start);
    let read = 0;
    while (read < entry.length) {
      const n = await this.#file.read(buffer.subarray(read));
      if (n === null) break;
      read += n;
    }
    return buffer.subarray(0, read);
  }

  /**
   * Takes the waiting record at `position` out of the index; the leased records before it move
   * up one place, so that order is kept and the head stays a plain counter.
   */
  #cutOut(position: number): IndexEntry {
    const entry = this.#index[position]!;
    for (let at = position; at > this.#head; at--) this.#index[at] = this.#index[at - 1]!;
    this.#head++;
    return entry;
  }

  async #remove(seq: number): Promise<void> {
    let count = 0;
    while (count < this.#leased && this.#index[this.#head + count]!.seq <= seq) count++;
    if (count === 0 || this.#index[this.#head + count - 1]!.seq !== seq) {
      throw new Error(`Cannot remove record ${seq} from "${this.#logPath}": it is not leased`);
    }
    for (let at = this.#head; at < this.#head + count; at++) this.#bytes -= this.#index[at]!.length;
    this.#head += count;
    this.#leased -= count;
    await this.#writeMark();
    await this.#tidy();
  }

  /** Every record through this sequence number is done: delivered or dropped. */
  #doneThrough(): number {
    return (this.#index[this.#head]?.seq ?? this.#nextSeq) - 1;
  }

  /**
   * Writes the delivered mark when it moved, over the old one in place: a fixed-width write of
   * one block needs no new space on a full disk, and a crash leaves the old or the new number.
   */
  async #writeMark(): Promise<void> {
    const done = this.#doneThrough();
    if (done === this.#markOnDisk) return;
    try {
      const file = await Deno.open(this.#markPath, { write: true, create: true });
      try {
        await writeAll(file, encoder.encode(`${String(done).padStart(MARK_WIDTH)}\n`));
        await file.syncData();
      } finally {
        file.close();
      }
      this.#markOnDisk = done;
      this.#failures.delete("mark");
    } catch (error) {
      this.#fail("mark", `cannot write the delivered mark "${this.#markPath}"`, error);
    }
  }

  /** Frees the space of delivered records: all of it when the queue is empty. */
  async #tidy(): Promise<void> {
    if (this.length > 0) return await this.#compactIfWorthIt();
    if (this.#end === 0) return;
    try {
      await this.#file.truncate(0);
      this.#failures.delete("tidy");
    } catch (error) {
      return this.#fail("tidy", `cannot truncate "${this.#logPath}"`, error);
    }
    this.#index = [];
    this.#head = 0;
    this.#end = 0;
    this.#partialTail = false;
  }

  /** Rewrites the log without delivered records once they make up most of it. */
  async #compactIfWorthIt(): Promise<void> {
    if (this.#head < this.#compactFrom || this.#head * 2 < this.#index.length) return;
    const keep = this.#index.slice(this.#head);
    const temporary = `${this.#logPath}.tmp`;
    let out: Deno.FsFile | undefined;
    let moved: IndexEntry[] | undefined;
    try {
      // Opened before the rename, so that the handle follows the new log.
      out = await Deno.open(temporary, { read: true, write: true, create: true, truncate: true });
      moved = await this.#copyRecords(keep, out);
      if (moved) {
        await out.syncData();
        await Deno.rename(temporary, this.#logPath);
      }
    } catch (error) {
      moved = undefined;
      this.#compactFrom = this.#head + COMPACT_AFTER; // not again on every operation
      this.#fail("tidy", `cannot compact "${this.#logPath}"`, error);
    }
    if (!moved || !out) {
      out?.close();
      await Deno.remove(temporary).catch(() => {}); // frees what the copy took; gone if never made
      return;
    }
    const offset = moved.reduce((end, entry) => end + entry.length, 0);
    this.#file.close();
    this.#file = out;
    this.#index = moved;
    this.#head = 0;
    this.#end = offset;
    this.#partialTail = false;
    this.#compactFrom = COMPACT_AFTER;
    this.#failures.delete("tidy");
  }

  /**
   * Copies records to `out`, each run of neighbours in the log a megabyte at a time, syncing every
   * few megabytes so that no single sync (nor a close waiting for one) takes long on a slow card.
   *
   * @returns Where they are in `out`; `undefined` when the queue's signal aborted meanwhile (the
   *   delivered mark tells the next start what the old log's head holds).
   * @throws When a record was cut short (left for leasing to skip and count; copied short, it
   *   would damage the next one), or reading or writing fails.
   */
  async #copyRecords(keep: IndexEntry[], out: Deno.FsFile): Promise<IndexEntry[] | undefined> {
    const moved: IndexEntry[] = [];
    let offset = 0;
    let unsynced = 0;
    for (let first = 0; first < keep.length;) {
      let last = first;
      const start = keep[first]!.offset;
      while (
        last + 1 < keep.length && keep[last + 1]!.offset === keep[last]!.offset + keep[last]!.length
      ) last++;
      const end = keep[last]!.offset + keep[last]!.length;
      for (let at = start; at < end; at += COPY_CHUNK) {
        if (this.#signal?.aborted) return undefined;
        const want = Math.min(COPY_CHUNK, end - at);
        const bytes = await this.#read({ offset: at, length: want });
        if (bytes.length < want) throw new Error(`records from ${keep[first]!.seq} were cut short`);
        await writeAll(out, bytes);
        unsynced += want;
        if (unsynced >= SYNC_EVERY) {
          await out.syncData();
          unsynced = 0;
        }
      }
      for (; first <= last; first++) {
        moved.push({ ...keep[first]!, offset });
        offset += keep[first]!.length;
      }
    }
    return moved;
  }

  /**
   * After opening: blanks damaged stretches out in place (no new space needed) and cuts a torn
   * end off, so that the next start does not count them again.
   */
  async #repair(damaged: { start: number; end: number }[]): Promise<void> {
    try {
      for (const { start, end } of damaged) {
        await this.#file.seek(start, Deno.SeekMode.Start);
        await writeAll(this.#file, new Uint8Array(end - 1 - start).fill(0x20));
      }
      if (damaged.length > 0) await this.#file.syncData();
      if (this.#partialTail) await this.#cutPartialTail();
    } catch (error) {
      this.#fail("tidy", `cannot blank damaged records out of "${this.#logPath}"`, error);
    }
  }

  #fail(kind: WriteKind, what: string, error: unknown): void {
    this.#failures.set(kind, `${what}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.length;) {
    written += await file.write(bytes.subarray(written));
  }
}
