/**
 * The byte-pair-encoding core on integer symbol ids: a merge table (open addressing over packed
 * pairs) and the merge loop of CLIP's `SimpleTokenizer.bpe`.
 *
 * The reference repeatedly picks the pair of lowest merge rank present in the word and merges every
 * non-overlapping occurrence of it, left to right. Short words run exactly that loop. Long words
 * use a heap of (rank, position) and a linked list, O(n log n): popping by rank and then by position
 * merges the same occurrences in the same order, provided every merge's parts were created by
 * earlier merges (then a merge can only create pairs of higher rank). That holds for CLIP's merges
 * file and is checked when the table is built; where it fails, every word takes the exact loop.
 *
 * @module
 */

/** Words up to this many symbols use the reference's quadratic loop (fastest when short). */
const SHORT_WORD = 48;

/** A merge table: (left id, right id) → rank and merged id. */
export class MergeTable {
  private readonly keys: Uint32Array;
  private readonly ranks: Int32Array;
  private readonly merged: Int32Array;
  private readonly mask: number;
  private readonly stride: number;
  /** True when every merge's parts come from byte symbols or from earlier merges. */
  readonly ranksIncrease: boolean;

  /**
   * @param pairs `[left, right, merged]` ids in rank order (rank = index); a later duplicate pair
   *   overrides an earlier one, as a Python dict built from the list would
   * @param vocabSize number of ids (the pair packing needs `vocabSize² < 2³²`)
   * @param firstMergedId id of the first merged symbol (512 for CLIP), used for the rank check
   */
  constructor(pairs: ReadonlyArray<readonly [number, number, number]>, vocabSize: number, firstMergedId: number) {
    if (vocabSize * vocabSize >= 2 ** 32) {
      throw new Error(`MergeTable: expected vocabSize below 65536, got ${vocabSize}`);
    }
    this.stride = vocabSize;
    let cap = 1;
    while (cap < pairs.length * 2.5) cap <<= 1;
    this.keys = new Uint32Array(cap);
    this.ranks = new Int32Array(cap);
    this.merged = new Int32Array(cap);
    this.mask = cap - 1;
    // creation rank of each merged id (-1 for byte symbols)
    const createdAt = new Int32Array(vocabSize).fill(-1);
    let increasing = true;
    for (let r = 0; r < pairs.length; r++) {
      const [a, b, m] = pairs[r] as readonly [number, number, number];
      if (
        (a >= firstMergedId && !(createdAt[a]! >= 0 && createdAt[a]! < r)) ||
        (b >= firstMergedId && !(createdAt[b]! >= 0 && createdAt[b]! < r))
      ) {
        increasing = false;
      }
      if (createdAt[m] === -1) createdAt[m] = r;
      this.insert(a, b, r, m);
    }
    this.ranksIncrease = increasing;
  }

  private slot(key: number): number {
    return (Math.imul(key, 0x9e3779b1) >>> 0) & this.mask;
  }

  private insert(a: number, b: number, rank: number, merged: number): void {
    const key = (a * this.stride + b + 1) >>> 0;
    let s = this.slot(key);
    while (this.keys[s] !== 0 && this.keys[s] !== key) s = (s + 1) & this.mask;
    this.keys[s] = key;
    this.ranks[s] = rank;
    this.merged[s] = merged;
  }

  /** Slot of pair (a, b), or -1 when the pair is not a merge. */
  find(a: number, b: number): number {
    const key = (a * this.stride + b + 1) >>> 0;
    const keys = this.keys;
    let s = this.slot(key);
    for (;;) {
      const k = keys[s] as number;
      if (k === key) return s;
      if (k === 0) return -1;
      s = (s + 1) & this.mask;
    }
  }

  /** Rank stored in slot `s`. */
  rankAt(s: number): number {
    return this.ranks[s] as number;
  }

  /** Merged id stored in slot `s`. */
  mergedAt(s: number): number {
    return this.merged[s] as number;
  }

  /**
   * Applies the merges to a word given as symbol ids; returns the final ids.
   * `syms` is consumed (modified in place).
   */
  apply(syms: Int32Array): Int32Array {
    if (syms.length < 2) return syms;
    if (syms.length <= SHORT_WORD || !this.ranksIncrease) return this.applyLoop(syms);
    return this.applyHeap(syms);
  }

  /** The reference's loop: merge all occurrences of the lowest-rank pair, until none is left. */
  applyLoop(syms: Int32Array): Int32Array {
    let len = syms.length;
    for (;;) {
      let bestRank = 0x7fffffff;
      let first = -1;
      let second = -1;
      for (let i = 0; i + 1 < len; i++) {
        const s = this.find(syms[i] as number, syms[i + 1] as number);
        if (s >= 0 && (this.ranks[s] as number) < bestRank) {
          bestRank = this.ranks[s] as number;
          first = syms[i] as number;
          second = syms[i + 1] as number;
        }
      }
      if (first < 0) break;
      const m = this.merged[this.find(first, second)] as number;
      let w = 0;
      let i = 0;
      while (i < len) {
        if (i + 1 < len && syms[i] === first && syms[i + 1] === second) {
          syms[w++] = m;
          i += 2;
        } else {
          syms[w++] = syms[i++] as number;
        }
      }
      len = w;
      if (len === 1) break;
    }
    return syms.subarray(0, len);
  }

  /** Heap-ordered merging for long words (same result as {@link applyLoop} when ranks increase). */
  applyHeap(syms: Int32Array): Int32Array {
    const n = syms.length;
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const heap = new MinHeap(n);
    const TWO32 = 4294967296;
    for (let i = 0; i + 1 < n; i++) {
      const s = this.find(syms[i] as number, syms[i + 1] as number);
      if (s >= 0) heap.push((this.ranks[s] as number) * TWO32 + i);
    }
    while (heap.size > 0) {
      const key = heap.pop();
      const rank = Math.floor(key / TWO32);
      const i = key - rank * TWO32;
      if (!alive[i]) continue;
      const j = next[i] as number;
      if (j < 0) continue;
      const s = this.find(syms[i] as number, syms[j] as number);
      if (s < 0 || this.ranks[s] !== rank) continue;
      syms[i] = this.merged[s] as number;
      alive[j] = 0;
      const k = next[j] as number;
      next[i] = k;
      if (k >= 0) prev[k] = i;
      const p = prev[i] as number;
      if (p >= 0) {
        const sp = this.find(syms[p] as number, syms[i] as number);
        if (sp >= 0) heap.push((this.ranks[sp] as number) * TWO32 + p);
      }
      if (k >= 0) {
        const sk = this.find(syms[i] as number, syms[k] as number);
        if (sk >= 0) heap.push((this.ranks[sk] as number) * TWO32 + i);
      }
    }
    let count = 0;
    for (let i = 0; i >= 0; i = next[i] as number) syms[count++] = syms[i] as number;
    return syms.subarray(0, count);
  }
}

/** A binary min-heap of float64 keys. */
class MinHeap {
  private data: Float64Array;
  size = 0;

  constructor(capacity: number) {
    this.data = new Float64Array(Math.max(16, capacity));
  }

  push(v: number): void {
    if (this.size === this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    const d = this.data;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pv = d[parent] as number;
      if (pv <= v) break;
      d[i] = pv;
      i = parent;
    }
    d[i] = v;
  }

  pop(): number {
    const d = this.data;
    const top = d[0] as number;
    const last = d[--this.size] as number;
    let i = 0;
    const n = this.size;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && (d[r] as number) < (d[l] as number) ? r : l;
      if ((d[c] as number) >= last) break;
      d[i] = d[c] as number;
      i = c;
    }
    if (n > 0) d[i] = last;
    return top;
  }
}
