/**
 * A ring buffer: a fixed number of slots, oldest first. Adding to a full ring overwrites its
 * oldest item, and dropping the oldest moves a start index, so neither moves the other items.
 *
 * @module
 */

/** Items in arrival order, at most `capacity` of them; see the module documentation. */
export class Ring<T> {
  readonly #slots: (T | undefined)[];
  #start = 0;
  #length = 0;

  /**
   * Makes an empty ring.
   *
   * @param capacity Most items kept; adding beyond that drops the oldest.
   */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`A ring needs a capacity of at least 1, not ${capacity}`);
    }
    this.#slots = new Array(capacity);
  }

  /** Items kept. */
  get length(): number {
    return this.#length;
  }

  /**
   * The item at a position: 0 is the oldest, -1 the newest.
   *
   * @param index The position.
   * @returns The item, or `undefined` beyond either end.
   *
   * @example
   * ```ts
   * import { Ring } from "./ring.ts";
   * import assert from "node:assert/strict";
   * const ring = new Ring<number>(2);
   * for (const n of [1, 2, 3]) ring.push(n);
   * assert.deepEqual([ring.at(0), ring.at(-1), ring.length], [2, 3, 2]);
   * ```
   */
  at(index: number): T | undefined {
    const position = index < 0 ? this.#length + index : index;
    if (position < 0 || position >= this.#length) return undefined;
    return this.#slots[(this.#start + position) % this.#slots.length];
  }

  /** Adds an item as the newest; a full ring drops its oldest. */
  push(item: T): void {
    const capacity = this.#slots.length;
    if (this.#length === capacity) {
      this.#slots[this.#start] = item;
      this.#start = (this.#start + 1) % capacity;
      return;
    }
    this.#slots[(this.#start + this.#length) % capacity] = item;
    this.#length++;
  }

  /** Drops the oldest items while `drop` holds for the oldest. */
  dropOldestWhile(drop: (item: T) => boolean): void {
    while (this.#length > 0 && drop(this.at(0)!)) {
      this.#slots[this.#start] = undefined;
      this.#start = (this.#start + 1) % this.#slots.length;
      this.#length--;
    }
  }

  /** Drops the newest items while `drop` holds for the newest. */
  dropNewestWhile(drop: (item: T) => boolean): void {
    while (this.#length > 0 && drop(this.at(-1)!)) {
      this.#slots[(this.#start + this.#length - 1) % this.#slots.length] = undefined;
      this.#length--;
    }
  }

  /** The items, oldest first. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.#length; i++) yield this.at(i)!;
  }

  /** The items for which `keep` holds, oldest first. */
  filter(keep: (item: T) => boolean): T[] {
    const kept: T[] = [];
    for (const item of this) if (keep(item)) kept.push(item);
    return kept;
  }
}
