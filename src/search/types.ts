/**
 * The contracts between the parts of person search. Data flows one way: image sources →
 * preprocessing → an {@link EncoderEngine} → a {@link GalleryStore} → ranking. The engine never
 * knows about stores, the store never knows about the model.
 *
 * @module
 */

/** Plain metadata a store keeps beside a row (strings, numbers, booleans). */
export type RowMetadata = Record<string, string | number | boolean>;

/** One search result: a gallery id, its cosine similarity to the query, and its 1-based rank. */
export interface SearchHit {
  /** The gallery item's id (by default, the image source it was indexed from). */
  id: string;
  /** Cosine similarity of the L2-normalised query and gallery features, in [-1, 1]. */
  score: number;
  /** 1 for the best match. Ties keep the order in which the items were added. */
  rank: number;
  /** The metadata stored with the item, when the store keeps any. */
  metadata?: RowMetadata;
}

/** Options of {@link GalleryStore.search}. */
export interface StoreSearchOptions {
  /** Hits per query (≥ 1); a store with fewer rows returns all of them. */
  k: number;
  /** Approximate stores (an IVF index): partitions probed per query. Exact stores ignore it. */
  nprobes?: number;
  /** Approximate stores: candidates re-ranked exactly, as a multiple of `k`. Exact stores ignore it. */
  refineFactor?: number;
}

/** A block of stored rows, as {@link GalleryStore.rows} yields them. */
export interface StoredRows {
  /** Ids, one per row. */
  ids: string[];
  /** Row-major float32 `[ids.length, dim]` features (L2-normalised when PersonSearch wrote them). */
  features: Float32Array;
  /** Metadata per row (`undefined` where a row has none). */
  metadata?: Array<RowMetadata | undefined>;
}

/**
 * Where a gallery's features live, and how it is searched. Features arrive L2-normalised (by
 * {@link PersonSearch}), so the score of a hit is the dot product of query and row: the cosine.
 * Implementations: `memoryStore()` (the default) and `lanceStore(uri)` (LanceDB, an optional peer).
 * Every method may be asynchronous; none takes or returns tensors.
 */
export interface GalleryStore {
  /** What kind of store this is ('memory', 'lancedb', …), for messages and index files. */
  readonly kind: string;
  /** Feature width, or null while the store is empty and has never been given one. */
  dim(): Promise<number | null>;
  /** Number of rows. */
  count(): Promise<number>;
  /** For each id, whether the store holds it. */
  has(ids: readonly string[]): Promise<boolean[]>;
  /**
   * Appends rows. `features` is row-major float32 `[ids.length, dim]`.
   * @throws Error (nothing added) when an id is already stored or repeated within `ids`, when the
   * width differs from the stored rows', or when `features` or `metadata` have the wrong length.
   */
  add(ids: readonly string[], features: Float32Array, metadata?: ReadonlyArray<RowMetadata | undefined>): Promise<void>;
  /** Removes the rows with these ids (unknown ids are ignored); returns how many were removed. */
  remove(ids: readonly string[]): Promise<number>;
  /**
   * The `k` rows with the largest dot product with each query, best first (ties: the row added
   * first wins). `queries` is row-major float32 `[numQueries, dim]`. Memory stays bounded
   * whatever the gallery size: no `numQueries × count()` matrix is ever materialised.
   * @throws Error when the store is empty, `k < 1`, or the query width differs from the rows'.
   */
  search(queries: Float32Array, numQueries: number, options: StoreSearchOptions): Promise<SearchHit[][]>;
  /** Every row, in insertion order, in blocks of at most `blockSize` rows (for saving and export). */
  rows(blockSize?: number): AsyncIterable<StoredRows>;
  /** Frees what the store holds (tensors, connections). The store cannot be used afterwards. */
  close(): Promise<void>;
}

/**
 * An image or text encoder that PersonSearch drives: the tfjs model itself, or onnxruntime on
 * the same weights. Inputs are host arrays in the model's conventions; outputs are the
 * reference's `encode_image` / `encode_text` global features, **not** normalised.
 */
export interface EncoderEngine {
  /** 'tfjs' or 'onnxruntime'. */
  readonly kind: string;
  /** Feature width (`embedDim`). */
  readonly embedDim: number;
  /**
   * Global image features of `count` images given as float32 NHWC `[count, H, W, 3]`, already
   * CLIP-normalised, at the model's image size. Returns row-major `[count, embedDim]`.
   */
  encodeImages(pixels: Float32Array, count: number): Promise<Float32Array>;
  /**
   * Global text features of `count` int32 rows `[count, contextLength]` of token ids (zero-padded,
   * each holding the end-of-text id). Returns row-major `[count, embedDim]`.
   */
  encodeTexts(ids: Int32Array, count: number): Promise<Float32Array>;
  /** Frees the engine's own resources (sessions); never the model it was built from. */
  dispose(): Promise<void>;
}
