/**
 * A gallery store on LanceDB (`@lancedb/lancedb`, an optional peer dependency): rows on disk or
 * object storage, exact search by default, an IVF-PQ index once the table is large.
 *
 * @module
 */
import type * as LanceDB from '@lancedb/lancedb';
import type * as Arrow from 'apache-arrow';
import type { GalleryStore, RowMetadata, SearchHit, StoredRows, StoreSearchOptions } from '../types';
import { StoreBase } from './base';
import { type LanceModules, loadLance } from './lance_loader';
import { type CheckedAdd, checkInteger, checkSearchInput, copyMetadata } from './validate';

/** Defaults of {@link lanceStore}. */
export const LANCE_STORE_DEFAULTS = {
  /** Table name inside the database folder. */
  table: 'gallery',
  /**
   * Rows from which `add` builds an IVF-PQ index by itself (once; `null` never does). Below it,
   * searches scan every row (exact).
   */
  indexMinRows: 100_000 as number | null,
  /** IVF partitions probed per query when the table has an index. */
  nprobes: 16,
  /**
   * Candidates re-ranked with the full vectors, as a multiple of k, when the table has an index.
   * On 1M clustered 512-d rows (256 partitions, 128 sub-vectors) recall@10 was 0.98 at 30 and
   * p50 17 ms at nprobes 16 (docs/deploy.md, "What was measured").
   */
  refineFactor: 30,
  /**
   * Feature dimensions per PQ sub-vector of an index built without `numSubVectors`:
   * `numSubVectors = dim / subVectorDims` when it divides dim (LanceDB's own default is dim / 16).
   */
  subVectorDims: 4,
  /** Queries searched at the same time (LanceDB runs them on its own threads). */
  queryConcurrency: 4,
  /** Ids per `IN (…)` list of a delete. */
  deleteBatch: 1000,
} as const;

/**
 * IVF-PQ index settings ({@link LanceGalleryStore.createIndex}); `numSubVectors` unset is
 * dim / {@link LANCE_STORE_DEFAULTS}.subVectorDims (when that divides dim), other unset fields take
 * LanceDB's defaults: `numPartitions` √rows, `numBits` 8, `maxIterations` 50, `sampleRate` 256.
 */
export interface LanceIndexOptions {
  /** IVF partitions (k-means clusters). */
  numPartitions?: number;
  /** PQ sub-vectors (dim must be divisible by it; dim/16 or dim/8 use LanceDB's SIMD paths). */
  numSubVectors?: number;
  /** Bits per PQ code: 4 or 8. */
  numBits?: number;
  /** k-means iterations. */
  maxIterations?: number;
  /** Training vectors per partition. */
  sampleRate?: number;
}

/** Options of {@link lanceStore}. */
export interface LanceStoreOptions {
  /** Table name. Default {@link LANCE_STORE_DEFAULTS}.table ('gallery'). */
  table?: string;
  /** Passed to `lancedb.connect` (credentials, region, endpoint of an object store). */
  storageOptions?: Record<string, string>;
  /**
   * Build an IVF-PQ index (with {@link LanceStoreOptions.index}) when an `add` brings the table to
   * this many rows and it has none; `null`: never automatically. Default
   * {@link LANCE_STORE_DEFAULTS}.indexMinRows (100,000).
   */
  indexMinRows?: number | null;
  /** Settings of the automatic index. Default: see {@link LanceIndexOptions}. */
  index?: LanceIndexOptions;
  /** Default `nprobes` of indexed searches. Default {@link LANCE_STORE_DEFAULTS}.nprobes (16). */
  nprobes?: number;
  /** Default `refineFactor` of indexed searches. Default {@link LANCE_STORE_DEFAULTS}.refineFactor (30). */
  refineFactor?: number;
  /** Always search exactly, even when the table has an index. Default false. */
  exact?: boolean;
  /** Queries searched concurrently. Default {@link LANCE_STORE_DEFAULTS}.queryConcurrency (4). */
  queryConcurrency?: number;
}

/** A {@link GalleryStore} on LanceDB, with the index and maintenance calls LanceDB offers. */
export interface LanceGalleryStore extends GalleryStore {
  /** The database URI or folder the store was opened on. */
  readonly uri: string;
  /** The table name. */
  readonly tableName: string;
  /**
   * Builds (or rebuilds) the IVF-PQ index on the features, with the dot product as its distance.
   * Needs at least 256 rows. Rows added later are searched exactly beside the index until
   * {@link LanceGalleryStore.optimize} folds them in.
   */
  createIndex(options?: LanceIndexOptions): Promise<void>;
  /** Whether the features have a vector index. */
  hasIndex(): Promise<boolean>;
  /**
   * LanceDB's `optimize()`: compacts the small files that many small `add`s leave, folds new rows
   * into the index and drops table versions older than a week.
   */
  optimize(): Promise<void>;
}

const COLUMNS = ['id', 'seq', 'features', 'metadata'] as const;

/** `'` doubled: a SQL string literal for LanceDB's filters. */
function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** One record batch read back: ids, insertion numbers, row-major features, metadata JSON. */
interface ReadRows {
  ids: string[];
  seqs: number[];
  features: Float32Array;
  metadata: Array<RowMetadata | undefined>;
}

function readBatch(batch: Arrow.RecordBatch, dim: number): ReadRows {
  const n = batch.numRows;
  const idCol = batch.getChild('id');
  const seqCol = batch.getChild('seq');
  const featCol = batch.getChild('features');
  const metaCol = batch.getChild('metadata');
  if (!idCol || !seqCol || !featCol || !metaCol) throw new Error('lanceStore: a record batch lacks a gallery column');
  const values = featCol.getChildAt(0)?.toArray() as Float32Array | undefined;
  if (!values || values.length !== n * dim) {
    throw new Error(`lanceStore: expected ${n} × ${dim} feature values in a record batch, got ${values?.length}`);
  }
  const ids: string[] = [];
  const seqs: number[] = [];
  const metadata: Array<RowMetadata | undefined> = [];
  for (let i = 0; i < n; i++) {
    ids.push(idCol.get(i) as string);
    seqs.push(Number(seqCol.get(i)));
    const m = metaCol.get(i) as string | null;
    metadata.push(m === null ? undefined : (JSON.parse(m) as RowMetadata));
  }
  return { ids, seqs, features: Float32Array.from(values), metadata };
}

class LanceStore extends StoreBase implements LanceGalleryStore {
  readonly kind = 'lancedb';
  private table: LanceDB.Table | null;
  private readonly ids: Set<string>;
  private nextSeq: number;
  private indexed: boolean;

  constructor(
    private readonly mods: LanceModules,
    private readonly db: LanceDB.Connection,
    readonly uri: string,
    readonly tableName: string,
    private readonly options: Required<Omit<LanceStoreOptions, 'storageOptions' | 'table' | 'index'>> & {
      index: LanceIndexOptions;
    },
    opened: { table: LanceDB.Table | null; dim: number | null; ids: Set<string>; nextSeq: number; indexed: boolean },
  ) {
    super('lanceStore');
    this.table = opened.table;
    this.width = opened.dim;
    this.ids = opened.ids;
    this.nextSeq = opened.nextSeq;
    this.indexed = opened.indexed;
  }

  protected size(): number {
    return this.ids.size;
  }

  protected holds(id: string): boolean {
    return this.ids.has(id);
  }

  private schema(dim: number): Arrow.Schema {
    const a = this.mods.arrow;
    return new a.Schema([
      new a.Field('id', new a.Utf8(), false),
      new a.Field('seq', new a.Int64(), false),
      new a.Field('features', new a.FixedSizeList(dim, new a.Field('item', new a.Float32(), true)), false),
      new a.Field('metadata', new a.Utf8(), true),
    ]);
  }

  /** The rows as one Arrow table of LanceDB's own apache-arrow instance. */
  private arrowRows(
    ids: readonly string[],
    features: Float32Array,
    metadata: ReadonlyArray<RowMetadata | undefined> | undefined,
    seq0: number,
  ): Arrow.Table {
    const a = this.mods.arrow;
    const dim = this.width as number;
    const n = ids.length;
    const schema = this.schema(dim);
    const seq = a.makeData({
      type: new a.Int64(),
      length: n,
      data: BigInt64Array.from(ids, (_, i) => BigInt(seq0 + i)),
    });
    const values = a.makeData({ type: new a.Float32(), length: n * dim, data: Float32Array.from(features) });
    const feats = a.makeData({ type: schema.fields[2].type, length: n, nullCount: 0, child: values });
    const meta = ids.map((_, i) => (metadata?.[i] === undefined ? null : JSON.stringify(metadata[i])));
    const struct = a.makeData({
      type: new a.Struct(schema.fields),
      length: n,
      nullCount: 0,
      children: [
        a.vectorFromArray(ids as string[], new a.Utf8()).data[0],
        seq,
        feats,
        a.vectorFromArray(meta, new a.Utf8()).data[0],
      ],
    });
    return new a.Table([new a.RecordBatch(schema, struct)]);
  }

  protected async addChecked(
    checked: CheckedAdd,
    features: Float32Array,
    metadata: ReadonlyArray<RowMetadata | undefined> | undefined,
  ): Promise<void> {
    const rows = this.arrowRows(checked.ids, features, metadata, this.nextSeq);
    if (this.table === null) {
      this.table = await this.db.createEmptyTable(this.tableName, this.schema(checked.dim));
    }
    // One LanceDB commit: after a crash the batch is either wholly stored or absent.
    await this.table.add(rows);
    this.version++;
    this.nextSeq += checked.ids.length;
    for (const id of checked.ids) this.ids.add(id);
    const min = this.options.indexMinRows;
    if (min !== null && !this.indexed && this.ids.size >= min) {
      try {
        await this.buildIndex(this.options.index);
      } catch (e) {
        throw new Error(
          `lanceStore.add: the ${checked.ids.length} rows were stored, but building the IVF-PQ index at ${this.ids.size} rows failed: ${(e as Error).message}`,
          { cause: e },
        );
      }
    }
  }

  private async buildIndex(options: LanceIndexOptions): Promise<void> {
    const table = this.table;
    if (table === null || this.ids.size < 256) {
      throw new Error(
        `lanceStore.createIndex: an IVF-PQ index needs at least 256 rows, the table has ${this.ids.size}`,
      );
    }
    const { Index } = this.mods.lancedb;
    const dim = this.width as number;
    const per = LANCE_STORE_DEFAULTS.subVectorDims;
    const subVectors = options.numSubVectors === undefined && dim % per === 0 ? { numSubVectors: dim / per } : {};
    await table.createIndex('features', {
      config: Index.ivfPq({ ...subVectors, ...options, distanceType: 'dot' }),
      replace: true,
    });
    this.indexed = true;
  }

  createIndex(options: LanceIndexOptions = {}): Promise<void> {
    return this.queue.run(async () => {
      this.open('createIndex');
      await this.buildIndex({ ...this.options.index, ...options });
    });
  }

  async hasIndex(): Promise<boolean> {
    this.open('hasIndex');
    return this.indexed;
  }

  optimize(): Promise<void> {
    return this.queue.run(async () => {
      this.open('optimize');
      await this.table?.optimize();
    });
  }

  remove(ids: readonly string[]): Promise<number> {
    return this.queue.run(async () => {
      this.open('remove');
      if (!Array.isArray(ids)) throw new Error('lanceStore.remove: ids: expected an array of strings');
      const known = [...new Set(ids.filter((id) => this.ids.has(id)))];
      if (known.length === 0 || this.table === null) return 0;
      const step = LANCE_STORE_DEFAULTS.deleteBatch;
      for (let i = 0; i < known.length; i += step) {
        const part = known.slice(i, i + step);
        await this.table.delete(`id IN (${part.map(sqlString).join(', ')})`);
        for (const id of part) this.ids.delete(id);
      }
      this.version++;
      return known.length;
    });
  }

  /**
   * The k best rows for one query: ordered by distance, then insertion number. When the k-th
   * distance is shared by the last row LanceDB returned, rows beyond the limit may tie with it:
   * the limit doubles until the tie is settled, so that the row added first wins.
   */
  private async searchOne(vector: Float32Array, k: number, nprobes: number, refineFactor: number, exact: boolean) {
    const table = this.table as LanceDB.Table;
    for (let limit = k; ; limit *= 2) {
      let query = table
        .vectorSearch(vector)
        .column('features')
        .distanceType('dot')
        .select(['id', 'seq', 'metadata', '_distance'])
        .limit(limit);
      query = exact ? query.bypassVectorIndex() : query.nprobes(nprobes).refineFactor(refineFactor);
      const got = (await query.toArray()) as Array<{
        id: string;
        seq: unknown;
        metadata: string | null;
        _distance: number;
      }>;
      const rows = got
        .map((r) => ({ id: r.id, seq: Number(r.seq), metadata: r.metadata, distance: r._distance }))
        .sort((a, b) => a.distance - b.distance || a.seq - b.seq);
      if (rows.length < limit || rows.length <= k || rows[rows.length - 1].distance !== rows[k - 1].distance) {
        return rows.slice(0, k).map((r, i) => {
          const hit: SearchHit = { id: r.id, score: 1 - r.distance, rank: i + 1 };
          if (r.metadata !== null) hit.metadata = JSON.parse(r.metadata) as RowMetadata;
          return hit;
        });
      }
    }
  }

  search(queries: Float32Array, numQueries: number, options: StoreSearchOptions): Promise<SearchHit[][]> {
    return this.queue.run(async () => {
      this.open('search');
      const k = checkSearchInput('lanceStore.search', queries, numQueries, options, this.width, this.ids.size);
      const dim = this.width as number;
      const nprobes = options.nprobes ?? this.options.nprobes;
      const refineFactor = options.refineFactor ?? this.options.refineFactor;
      // An index cannot return more rows than it probes: k ≥ rows means the whole table, exactly.
      const exact = this.options.exact || !this.indexed || k >= this.ids.size;
      const out: SearchHit[][] = new Array(numQueries);
      const step = this.options.queryConcurrency;
      for (let q0 = 0; q0 < numQueries; q0 += step) {
        const part = await Promise.all(
          Array.from({ length: Math.min(step, numQueries - q0) }, (_, j) =>
            this.searchOne(queries.slice((q0 + j) * dim, (q0 + j + 1) * dim), k, nprobes, refineFactor, exact),
          ),
        );
        part.forEach((hits, j) => {
          out[q0 + j] = hits;
        });
      }
      return out;
    });
  }

  async *rows(blockSize = 4096): AsyncIterable<StoredRows> {
    this.open('rows');
    checkInteger('lanceStore.rows: blockSize', blockSize, 1);
    const unchanged = this.unchangedCheck();
    const table = this.table;
    const dim = this.width;
    if (table === null || dim === null) return;
    // Insertion order is the `seq` column, not the file order (compaction rewrites files): read
    // every (seq, row id), sort, then take the rows block by block.
    const order = await this.queue.run(async () => {
      unchanged();
      const pairs: Array<{ seq: number; rowId: bigint | number }> = [];
      for await (const batch of table.query().select(['seq']).withRowId()) {
        const seq = batch.getChild('seq');
        const rowId = batch.getChild('_rowid');
        for (let i = 0; i < batch.numRows; i++) pairs.push({ seq: Number(seq?.get(i)), rowId: rowId?.get(i) });
      }
      return pairs.sort((a, b) => a.seq - b.seq);
    });
    for (let b0 = 0; b0 < order.length; b0 += blockSize) {
      const part = order.slice(b0, b0 + blockSize);
      const block = await this.queue.run(async () => {
        unchanged();
        const arrowTable = await table
          .takeRowIds(part.map((p) => p.rowId))
          .select([...COLUMNS])
          .toArrow();
        const bySeq = new Map<number, { id: string; at: number; batch: ReadRows }>();
        for (const batch of arrowTable.batches) {
          const read = readBatch(batch as unknown as Arrow.RecordBatch, dim);
          read.seqs.forEach((s, i) => {
            bySeq.set(s, { id: read.ids[i], at: i, batch: read });
          });
        }
        const features = new Float32Array(part.length * dim);
        const ids: string[] = [];
        const metadata: Array<RowMetadata | undefined> = [];
        part.forEach((p, i) => {
          const row = bySeq.get(p.seq);
          if (row === undefined) throw new Error(`lanceStore.rows: row with seq ${p.seq} vanished while reading`);
          ids.push(row.id);
          metadata.push(copyMetadata(row.batch.metadata[row.at]));
          features.set(row.batch.features.subarray(row.at * dim, (row.at + 1) * dim), i * dim);
        });
        return { ids, features, metadata };
      });
      unchanged();
      yield block;
    }
  }

  close(): Promise<void> {
    return this.queue.run(async () => {
      if (this.closed) return;
      this.closed = true;
      this.table?.close();
      this.db.close();
      this.ids.clear();
    });
  }
}

/** Reads what an existing gallery table holds: width, ids, next insertion number, index. */
async function openTable(
  db: LanceDB.Connection,
  name: string,
  where: string,
): Promise<{ table: LanceDB.Table | null; dim: number | null; ids: Set<string>; nextSeq: number; indexed: boolean }> {
  if (!(await db.tableNames()).includes(name))
    return { table: null, dim: null, ids: new Set(), nextSeq: 0, indexed: false };
  const table = await db.openTable(name);
  const schema = await table.schema();
  const names = schema.fields.map((f) => f.name);
  const feat = schema.fields.find((f) => f.name === 'features');
  const listSize = (feat?.type as { listSize?: number } | undefined)?.listSize;
  if (!COLUMNS.every((c) => names.includes(c)) || typeof listSize !== 'number') {
    table.close();
    throw new Error(
      `lanceStore: table '${name}' in ${where} is not a gallery table: expected columns ${COLUMNS.join(', ')} (features a fixed-size float32 list), got ${schema.toString()}`,
    );
  }
  const ids = new Set<string>();
  let nextSeq = 0;
  for await (const batch of table.query().select(['id', 'seq'])) {
    const id = batch.getChild('id');
    const seq = batch.getChild('seq');
    for (let i = 0; i < batch.numRows; i++) {
      ids.add(id?.get(i) as string);
      nextSeq = Math.max(nextSeq, Number(seq?.get(i)) + 1);
    }
  }
  const indexed = (await table.listIndices()).some((ix) => ix.columns.includes('features'));
  return { table, dim: listSize, ids, nextSeq, indexed };
}

/**
 * Opens (or creates, at the first `add`) a LanceDB gallery table: a {@link GalleryStore} of kind
 * `'lancedb'` whose rows live in a local folder or an object-store URI (`s3://…`, `gs://…`,
 * `az://…`). Needs the optional peer `@lancedb/lancedb` (0.31.0): a clear error says
 * `npm install @lancedb/lancedb@0.31.0` when it is missing. Node only.
 *
 * Table: `id` (utf8), `seq` (int64, insertion number: ties and `rows()` follow it), `features`
 * (fixed-size list of float32), `metadata` (utf8, the row's metadata as JSON, null when none).
 *
 * Search: LanceDB's vector search with the dot product (`_distance = 1 − dot`; the score returned
 * is `1 − _distance`, the cosine for L2-normalised features). Exact (flat) while the table has no
 * index; once an `add` brings it to `indexMinRows` rows (or after `createIndex()`), through an
 * IVF-PQ index with `nprobes` and `refineFactor` (per search, or the store's defaults).
 *
 * Resumable building: each `add` is one LanceDB commit (after a crash a batch is wholly stored or
 * absent); the store keeps the stored ids in a Set, read at open (so `has()` costs nothing per id)
 * and rejects an id already stored. Skip with `has()` and add the rest. One process should write
 * to a table at a time: another writer's rows are not seen until the store is reopened.
 *
 * @param uri a folder (created if needed), a `file:` path, an object-store URI, or
 *   `lancedb://DIR` (the CLI's spelling; the prefix is dropped).
 * @param options table name, storage options, index and search settings; see {@link LANCE_STORE_DEFAULTS}.
 * @returns the store, holding a connection until `close()`.
 * @throws Error when LanceDB is not installed, an option is out of range, or the table exists
 *   with other columns.
 * @example
 * const store = await lanceStore('./gallery.lance');
 * const stored = await store.has(['a.jpg', 'b.jpg']); // resume: add only what is missing
 * if (!stored[0]) await store.add(['a.jpg'], Float32Array.of(0.6, 0.8));
 * const [hits] = await store.search(Float32Array.of(1, 0), 1, { k: 10 }); // [{ id: 'a.jpg', score: 0.6, rank: 1 }]
 * await store.close();
 */
export async function lanceStore(uri: string, options: LanceStoreOptions = {}): Promise<LanceGalleryStore> {
  if (typeof uri !== 'string' || uri.length === 0) {
    throw new Error(`lanceStore: uri: expected a folder path or URI, got ${JSON.stringify(uri)}`);
  }
  const where = uri.startsWith('lancedb://') ? uri.slice('lancedb://'.length) : uri;
  const table = options.table ?? LANCE_STORE_DEFAULTS.table;
  if (typeof table !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(table)) {
    throw new Error(
      `lanceStore: options.table: expected letters, digits, '_', '-' or '.', got ${JSON.stringify(table)}`,
    );
  }
  const indexMinRows = options.indexMinRows === undefined ? LANCE_STORE_DEFAULTS.indexMinRows : options.indexMinRows;
  const settings = {
    indexMinRows: indexMinRows === null ? null : checkInteger('lanceStore: options.indexMinRows', indexMinRows, 256),
    nprobes: checkInteger('lanceStore: options.nprobes', options.nprobes ?? LANCE_STORE_DEFAULTS.nprobes, 1),
    refineFactor: checkInteger(
      'lanceStore: options.refineFactor',
      options.refineFactor ?? LANCE_STORE_DEFAULTS.refineFactor,
      1,
    ),
    exact: options.exact ?? false,
    queryConcurrency: checkInteger(
      'lanceStore: options.queryConcurrency',
      options.queryConcurrency ?? LANCE_STORE_DEFAULTS.queryConcurrency,
      1,
    ),
    index: { ...options.index },
  };
  const mods = await loadLance();
  const db = await mods.lancedb.connect(
    where,
    options.storageOptions ? { storageOptions: options.storageOptions } : {},
  );
  try {
    return new LanceStore(mods, db, where, table, settings, await openTable(db, table, where));
  } catch (e) {
    db.close();
    throw e;
  }
}
