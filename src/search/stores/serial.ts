/**
 * Runs a store's operations one at a time, in call order: a search that awaits between gallery
 * chunks must not see a concurrent `remove` dispose the chunk it is about to read.
 */
export class SerialQueue {
  private last: Promise<unknown> = Promise.resolve();

  /** Runs `fn` once every operation queued before it has settled; resolves or rejects as `fn` does. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.last.then(fn);
    this.last = result.catch(() => undefined);
    return result;
  }
}
