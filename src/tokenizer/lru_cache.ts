/**
 * A bounded cache with approximately least-recently-used eviction, in two generations: new
 * entries go to the young generation; when it fills half the capacity, the old generation is
 * dropped and the young one becomes old. A hit in the old generation moves the entry back to the
 * young one. Lookups of recent entries cost one `Map.get`, and at most `maxSize` entries are held.
 *
 * @module
 */

/** Two-generation cache holding at most `maxSize` entries. */
export class LruCache<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly half: number;

  /** @param maxSize largest number of entries (0 disables caching) */
  constructor(readonly maxSize: number) {
    if (!Number.isInteger(maxSize) || maxSize < 0) {
      throw new Error(`LruCache: expected maxSize to be an integer >= 0, got ${maxSize}`);
    }
    this.half = Math.max(1, Math.floor(maxSize / 2));
  }

  /** Number of entries held now. */
  get size(): number {
    return this.young.size + this.old.size;
  }

  /** The value under `key`, or undefined; a hit in the old generation is moved to the young one. */
  get(key: K): V | undefined {
    const v = this.young.get(key);
    if (v !== undefined) return v;
    const o = this.old.get(key);
    if (o !== undefined) {
      this.old.delete(key);
      this.set(key, o);
    }
    return o;
  }

  /** Stores `value` under `key`; when the young generation is full, the old one is dropped. */
  set(key: K, value: V): void {
    if (this.maxSize === 0) return;
    if (this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  /** Removes every entry. */
  clear(): void {
    this.young.clear();
    this.old.clear();
  }
}
