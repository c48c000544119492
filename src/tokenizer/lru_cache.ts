/**
 * A bounded least-recently-used cache on a `Map` (insertion order = recency order).
 *
 * @module
 */

/** Least-recently-used cache holding at most `maxSize` entries. */
export class LruCache<K, V> {
  private readonly map = new Map<K, V>();

  /** @param maxSize largest number of entries (0 disables caching) */
  constructor(readonly maxSize: number) {
    if (!Number.isInteger(maxSize) || maxSize < 0) {
      throw new Error(`LruCache: expected maxSize to be an integer >= 0, got ${maxSize}`);
    }
  }

  /** Number of entries held now. */
  get size(): number {
    return this.map.size;
  }

  /** The value under `key` (which becomes the most recently used), or undefined. */
  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  /** Stores `value` under `key`, evicting the least recently used entry when full. */
  set(key: K, value: V): void {
    if (this.maxSize === 0) return;
    this.map.delete(key);
    if (this.map.size >= this.maxSize) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
    this.map.set(key, value);
  }

  /** Removes every entry. */
  clear(): void {
    this.map.clear();
  }
}
