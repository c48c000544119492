/**
 * What the gallery stores share (internal): operations run one at a time, the closed state, the
 * change counter that `rows()` watches, the feature width, and `dim`, `count` and `has`.
 *
 * @module
 */
import type { RowMetadata } from '../types';
import { SerialQueue } from './serial';
import { type CheckedAdd, checkAddInput, rejectStored } from './validate';

/** The base of the memory store and the LanceDB store. */
export abstract class StoreBase {
  /** Runs the operations that read or change the rows one at a time, in call order. */
  protected readonly queue = new SerialQueue();
  /** Feature width, null until the first rows arrive. */
  protected width: number | null = null;
  protected closed = false;
  /** Incremented by every `add`/`remove` that changes the rows. */
  protected version = 0;

  /** `label`: the store's name in error messages (`'memoryStore'`, `'lanceStore'`). */
  protected constructor(private readonly label: string) {}

  /** Number of stored rows. */
  protected abstract size(): number;

  /** Whether a row `id` is stored. */
  protected abstract holds(id: string): boolean;

  /** Throws when the store is closed; `what` names the operation. */
  protected open(what: string): void {
    if (this.closed) throw new Error(`${this.label}.${what}: the store is closed`);
  }

  /** Width of the stored features, null while the store is empty and has never held rows. */
  async dim(): Promise<number | null> {
    this.open('dim');
    return this.width;
  }

  /** Number of stored rows. */
  async count(): Promise<number> {
    this.open('count');
    return this.size();
  }

  /** Whether each of `ids` is stored. */
  async has(ids: readonly string[]): Promise<boolean[]> {
    this.open('has');
    if (!Array.isArray(ids)) throw new Error(`${this.label}.has: ids: expected an array of strings`);
    return ids.map((id) => this.holds(id));
  }

  /**
   * Adds rows, inside the queue: throws when the store is closed, the input is malformed or an id
   * is already stored (nothing is added then); otherwise sets the store's width to the rows' and
   * hands them to {@link StoreBase.addChecked} (not called for zero rows).
   */
  add(
    ids: readonly string[],
    features: Float32Array,
    metadata?: ReadonlyArray<RowMetadata | undefined>,
  ): Promise<void> {
    return this.queue.run(async () => {
      this.open('add');
      const what = `${this.label}.add`;
      const checked = checkAddInput(what, ids, features, metadata, this.width);
      rejectStored(
        what,
        checked.ids.filter((id) => this.holds(id)),
      );
      if (checked.ids.length === 0) return;
      this.width = checked.dim;
      await this.addChecked(checked, features, metadata);
    });
  }

  /** Stores checked new rows (`checked.ids`, of width `checked.dim`, row-major in `features`). */
  protected abstract addChecked(
    checked: CheckedAdd,
    features: Float32Array,
    metadata: ReadonlyArray<RowMetadata | undefined> | undefined,
  ): Promise<void>;

  /**
   * For `rows()`: a check that throws when the store has been closed, or its rows changed, since
   * this call.
   */
  protected unchangedCheck(): () => void {
    const version = this.version;
    return () => {
      this.open('rows');
      if (this.version !== version) {
        throw new Error(`${this.label}.rows: the store was changed (add/remove) while its rows were being read`);
      }
    };
  }
}
