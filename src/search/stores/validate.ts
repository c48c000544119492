/**
 * Argument checks shared by the gallery stores: both must reject the same bad input with the same
 * words, so that a caller moving from `memoryStore()` to `lanceStore()` sees no difference.
 *
 * @module
 */
import type { RowMetadata, StoreSearchOptions } from '../types';

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return `an array of length ${x.length}`;
  if (ArrayBuffer.isView(x)) return `a ${x.constructor.name} of length ${(x as unknown as ArrayLike<number>).length}`;
  if (typeof x === 'string') return `the string ${JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}…` : x)}`;
  return typeof x === 'object' ? 'an object' : `${typeof x} ${String(x)}`;
}

/** Throws unless `x` is an integer ≥ `min`; `what` names the option (e.g. 'memoryStore: chunkRows'). */
export function checkInteger(what: string, x: unknown, min: number): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min) {
    throw new Error(`${what}: expected an integer ≥ ${min}, got ${describe(x)}`);
  }
  return x;
}

/** Throws unless `x` is a finite number > 0. */
export function checkPositive(what: string, x: unknown): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0) {
    throw new Error(`${what}: expected a finite number > 0, got ${describe(x)}`);
  }
  return x;
}

/** Throws unless every entry of `ids` is a non-empty string; returns them as an array. */
export function checkIds(what: string, ids: unknown): string[] {
  if (!Array.isArray(ids)) throw new Error(`${what}: ids: expected an array of strings, got ${describe(ids)}`);
  for (let i = 0; i < ids.length; i++) {
    if (typeof ids[i] !== 'string' || ids[i].length === 0) {
      throw new Error(`${what}: ids[${i}]: expected a non-empty string, got ${describe(ids[i])}`);
    }
  }
  return ids as string[];
}

/** First id that appears twice in `ids`, or undefined. */
function firstRepeat(ids: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) return id;
    seen.add(id);
  }
  return undefined;
}

function checkMetadataEntry(what: string, i: number, m: unknown): void {
  if (m === undefined) return;
  if (m === null || typeof m !== 'object' || Array.isArray(m) || Object.getPrototypeOf(m) !== Object.prototype) {
    throw new Error(`${what}: metadata[${i}]: expected a plain object or undefined, got ${describe(m)}`);
  }
  for (const [key, v] of Object.entries(m)) {
    const ok = typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
    if (!ok) {
      throw new Error(
        `${what}: metadata[${i}].${key}: expected a string, a finite number or a boolean, got ${describe(v)}`,
      );
    }
  }
}

/** What {@link checkAddInput} found: the row width and the rows' count. */
export interface CheckedAdd {
  ids: string[];
  dim: number;
}

/**
 * Checks the arguments of `GalleryStore.add`: ids non-empty strings without repeats, `features` a
 * Float32Array of `ids.length × dim` finite values, `dim` equal to `storedDim` when the store has
 * one, `metadata` (when given) one plain object or undefined per id. Duplicates against stored rows
 * are the store's own check (it knows its rows). An empty `ids` with an empty `features` is valid
 * (dim is then `storedDim ?? 0`).
 */
export function checkAddInput(
  what: string,
  ids: unknown,
  features: unknown,
  metadata: unknown,
  storedDim: number | null,
): CheckedAdd {
  const list = checkIds(what, ids);
  if (!(features instanceof Float32Array)) {
    throw new Error(
      `${what}: features: expected a Float32Array (row-major [ids.length, dim]), got ${describe(features)}`,
    );
  }
  const repeat = firstRepeat(list);
  if (repeat !== undefined) throw new Error(`${what}: ids: ${JSON.stringify(repeat)} appears more than once`);
  if (list.length === 0) {
    if (features.length !== 0) {
      throw new Error(`${what}: features: expected an empty array for 0 ids, got length ${features.length}`);
    }
    return { ids: list, dim: storedDim ?? 0 };
  }
  if (features.length === 0 || features.length % list.length !== 0) {
    throw new Error(
      `${what}: features: expected a length that is a positive multiple of ids.length (${list.length}), got ${features.length}`,
    );
  }
  const dim = features.length / list.length;
  if (storedDim !== null && dim !== storedDim) {
    throw new Error(
      `${what}: features: expected ${list.length} × ${storedDim} = ${list.length * storedDim} values (the stored rows' width is ${storedDim}), got ${features.length} (width ${dim})`,
    );
  }
  for (let i = 0; i < features.length; i++) {
    if (!Number.isFinite(features[i])) {
      const row = Math.floor(i / dim);
      throw new Error(
        `${what}: features: row ${row} (id ${JSON.stringify(list[row])}) holds ${features[i]} at column ${i % dim}`,
      );
    }
  }
  if (metadata !== undefined) {
    if (!Array.isArray(metadata) || metadata.length !== list.length) {
      throw new Error(
        `${what}: metadata: expected an array of ${list.length} entries (one per id), got ${describe(metadata)}`,
      );
    }
    for (let i = 0; i < metadata.length; i++) checkMetadataEntry(what, i, metadata[i]);
  }
  return { ids: list, dim };
}

/** Throws when `existing` holds ids: the error names the first one and how many there are. */
export function rejectStored(what: string, existing: readonly string[]): void {
  if (existing.length > 0) {
    throw new Error(
      `${what}: ids: ${JSON.stringify(existing[0])}${existing.length > 1 ? ` and ${existing.length - 1} more` : ''} already stored (nothing was added; remove them first or skip them with has())`,
    );
  }
}

/**
 * Checks the arguments of `GalleryStore.search` against a store of `count` rows of width `dim`;
 * returns `k`.
 */
export function checkSearchInput(
  what: string,
  queries: unknown,
  numQueries: unknown,
  options: StoreSearchOptions | undefined,
  dim: number | null,
  count: number,
): number {
  if (count === 0 || dim === null) throw new Error(`${what}: the store is empty: add rows before searching`);
  if (!(queries instanceof Float32Array)) {
    throw new Error(
      `${what}: queries: expected a Float32Array (row-major [numQueries, ${dim}]), got ${describe(queries)}`,
    );
  }
  const n = checkInteger(`${what}: numQueries`, numQueries, 1);
  if (queries.length !== n * dim) {
    throw new Error(
      `${what}: queries: expected ${n} × ${dim} = ${n * dim} values (the stored rows' width is ${dim}), got ${queries.length}`,
    );
  }
  for (let i = 0; i < queries.length; i++) {
    if (!Number.isFinite(queries[i])) {
      throw new Error(`${what}: queries: query ${Math.floor(i / dim)} holds ${queries[i]} at column ${i % dim}`);
    }
  }
  if (options === null || typeof options !== 'object') {
    throw new Error(`${what}: options: expected an object with k, got ${describe(options)}`);
  }
  const k = checkInteger(`${what}: options.k`, options.k, 1);
  if (options.nprobes !== undefined) checkInteger(`${what}: options.nprobes`, options.nprobes, 1);
  if (options.refineFactor !== undefined) checkInteger(`${what}: options.refineFactor`, options.refineFactor, 1);
  return k;
}

/** Copies a metadata entry (so that later changes by the caller do not reach the store). */
export function copyMetadata(m: RowMetadata | undefined): RowMetadata | undefined {
  return m === undefined ? undefined : { ...m };
}
