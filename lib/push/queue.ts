/**
 * A durable, bounded, ordered on-disk queue: an append-only log of JSON lines (each appended and
 * synced to disk before `push` returns) and a small file holding the sequence number delivered
 * last (written to a temporary file, synced, then renamed over the old one). Only an index of
 * offsets stays in memory; records are read back from disk when they are sent.
 *
 * After a crash, a torn last line (no newline, or not JSON) is detected and cut off, not fatal.
 * A crash between a delivery and the update of the delivered mark resends that one record:
 * delivery is at least once.
 *
 * @module
 */

/** One queued item. */
export interface QueueRecord<T> {
  /** Increasing sequence number. */
  seq: number;
  /** When it was queued (ms since the epoch). */
  queuedAt: number;
  /** The item. */
  item: T;
}

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
}

interface IndexEntry {
  seq: number;
  queuedAt: number;
  offset: number;
  length: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The durable queue; see the module documentation. */
export class DurableQueue<T> {
  readonly #logPath: string;
  readonly #markPath: string;
  readonly #maxRecords: number;
  readonly #maxBytes: number;
  #file: Deno.FsFile;
  #index: IndexEntry[] = [];
  #head = 0;
  #bytes = 0;
  #end = 0;
  #nextSeq = 1;
  #delivered = 0;
  #lock: Promise<unknown> = Promise.resolve();
  /** Records dropped because the queue was full, since it was opened. */
  dropped = 0;
  /** Bytes cut off a torn last record when the queue was opened. */
  readonly tornBytes: number;

  private constructor(
    file: Deno.FsFile,
    logPath: string,
    markPath: string,
    options: QueueOptions,
    torn: number,
  ) {
    this.#file = file;
    this.#logPath = logPath;
    this.#markPath = markPath;
    this.#maxRecords = options.maxRecords ?? 200_000;
    this.#maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
    this.tornBytes = torn;
  }

  /**
   * Opens (or creates) a queue and recovers what a previous run left.
   *
   * @param options Where, and how large.
   * @returns The queue, holding every record not yet delivered.
   */
  static async open<T>(options: QueueOptions): Promise<DurableQueue<T>> {
    await Deno.mkdir(options.dir, { recursive: true });
    const logPath = `${options.dir}/${options.name}.queue.jsonl`;
    const markPath = `${options.dir}/${options.name}.delivered`;
    let delivered = 0;
    try {
      delivered = Number((await Deno.readTextFile(markPath)).trim()) || 0;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    let bytes = new Uint8Array();
    try {
      bytes = await Deno.readFile(logPath);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    // Index every complete line; a torn last line is cut off.
    const entries: IndexEntry[] = [];
    let offset = 0;
    let lastSeq = delivered;
    while (offset < bytes.length) {
      const newline = bytes.indexOf(0x0a, offset);
      if (newline < 0) break;
      let record: QueueRecord<unknown> | undefined;
      try {
        record = JSON.parse(decoder.decode(bytes.subarray(offset, newline)));
      } catch {
        break;
      }
      if (typeof record?.seq !== "number") break;
      entries.push({
        seq: record.seq,
        queuedAt: record.queuedAt,
        offset,
        length: newline + 1 - offset,
      });
      lastSeq = Math.max(lastSeq, record.seq);
      offset = newline + 1;
    }
    const torn = bytes.length - offset;
    const file = await Deno.open(logPath, { read: true, write: true, create: true });
    if (torn > 0) {
      await file.truncate(offset);
      await file.syncData();
    }
    const queue = new DurableQueue<T>(file, logPath, markPath, options, torn);
    queue.#index = entries.filter((entry) => entry.seq > delivered);
    queue.#bytes = queue.#index.reduce((sum, entry) => sum + entry.length, 0);
    queue.#end = offset;
    queue.#nextSeq = lastSeq + 1;
    queue.#delivered = delivered;
    return queue;
  }

  /** Records waiting. */
  get length(): number {
    return this.#index.length - this.#head;
  }

  /** Bytes of the records waiting. */
  get bytes(): number {
    return this.#bytes;
  }

  /** When the oldest waiting record was queued (ms since the epoch), if any. */
  get oldestQueuedAt(): number | undefined {
    return this.#index[this.#head]?.queuedAt;
  }

  /**
   * Appends an item and syncs it to disk; drops the oldest records when the queue is full.
   *
   * @param item The item (serialised as JSON).
   * @param queuedAt When it was queued.
   * @returns How many old records had to be dropped to make room.
   */
  push(item: T, queuedAt: number = Date.now()): Promise<number> {
    return this.#exclusive(() => this.#push(item, queuedAt));
  }

  /** Runs file operations one at a time: they share the file position. */
  #exclusive<R>(operation: () => Promise<R>): Promise<R> {
    const result = this.#lock.then(operation);
    this.#lock = result.catch(() => {});
    return result;
  }

  async #push(item: T, queuedAt: number): Promise<number> {
    const record: QueueRecord<T> = { seq: this.#nextSeq++, queuedAt, item };
    const line = encoder.encode(`${JSON.stringify(record)}\n`);
    await this.#file.seek(this.#end, Deno.SeekMode.Start);
    let written = 0;
    while (written < line.length) written += await this.#file.write(line.subarray(written));
    await this.#file.syncData();
    this.#index.push({ seq: record.seq, queuedAt, offset: this.#end, length: line.length });
    this.#end += line.length;
    this.#bytes += line.length;
    let dropped = 0;
    while (this.length > 1 && (this.length > this.#maxRecords || this.#bytes > this.#maxBytes)) {
      const oldest = this.#index[this.#head++]!;
      this.#bytes -= oldest.length;
      dropped++;
    }
    if (dropped > 0) {
      this.dropped += dropped;
      await this.#markDelivered(this.#index[this.#head - 1]!.seq);
    }
    await this.#compactIfWorthIt();
    return dropped;
  }

  /** Reads the oldest waiting record from disk, without removing it. */
  peek(): Promise<QueueRecord<T> | undefined> {
    return this.#exclusive(() => this.#peek());
  }

  async #peek(): Promise<QueueRecord<T> | undefined> {
    const entry = this.#index[this.#head];
    if (!entry) return undefined;
    const buffer = new Uint8Array(entry.length);
    await this.#file.seek(entry.offset, Deno.SeekMode.Start);
    let read = 0;
    while (read < entry.length) {
      const n = await this.#file.read(buffer.subarray(read));
      if (n === null) throw new Error(`Queue file "${this.#logPath}" ended early`);
      read += n;
    }
    return JSON.parse(decoder.decode(buffer));
  }

  /**
   * Removes the oldest record once it has been delivered (or dead-lettered), durably.
   *
   * @param seq Its sequence number (a check against removing the wrong one).
   */
  remove(seq: number): Promise<void> {
    return this.#exclusive(() => this.#remove(seq));
  }

  async #remove(seq: number): Promise<void> {
    const entry = this.#index[this.#head];
    if (!entry || entry.seq !== seq) {
      throw new Error(`Cannot remove record ${seq}: it is not the oldest`);
    }
    this.#head++;
    this.#bytes -= entry.length;
    await this.#markDelivered(seq);
    await this.#compactIfWorthIt();
  }

  async #markDelivered(seq: number): Promise<void> {
    this.#delivered = seq;
    const temporary = `${this.#markPath}.tmp`;
    const file = await Deno.open(temporary, { write: true, create: true, truncate: true });
    try {
      await file.write(encoder.encode(`${seq}\n`));
      await file.syncData();
    } finally {
      file.close();
    }
    await Deno.rename(temporary, this.#markPath);
  }

  /** Rewrites the log without delivered records once they make up most of it. */
  async #compactIfWorthIt(): Promise<void> {
    if (this.#head < 1024 || this.#head * 2 < this.#index.length) return;
    const keep = this.#index.slice(this.#head);
    const temporary = `${this.#logPath}.tmp`;
    const out = await Deno.open(temporary, { write: true, create: true, truncate: true });
    const moved: IndexEntry[] = [];
    let offset = 0;
    try {
      for (const entry of keep) {
        const buffer = new Uint8Array(entry.length);
        await this.#file.seek(entry.offset, Deno.SeekMode.Start);
        let read = 0;
        while (read < entry.length) {
          read += (await this.#file.read(buffer.subarray(read))) ?? entry.length;
        }
        let written = 0;
        while (written < buffer.length) written += await out.write(buffer.subarray(written));
        moved.push({ ...entry, offset });
        offset += entry.length;
      }
      await out.syncData();
    } finally {
      out.close();
    }
    await Deno.rename(temporary, this.#logPath);
    this.#file.close();
    this.#file = await Deno.open(this.#logPath, { read: true, write: true });
    this.#index = moved;
    this.#head = 0;
    this.#end = offset;
  }

  /** Closes the files once pending operations are done (everything is already on disk). */
  async close(): Promise<void> {
    await this.#exclusive(() => Promise.resolve(this.#file.close()));
  }
}
