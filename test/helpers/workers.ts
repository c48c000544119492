import { Worker } from 'node:worker_threads';
import { vi } from 'vitest';

/** Runs `fn`, returning the workers it terminated and whether each has exited (threadId -1). */
export async function watchWorkers<T>(
  fn: () => Promise<T>,
): Promise<{ result?: T; error?: unknown; exited: boolean[] }> {
  const spy = vi.spyOn(Worker.prototype, 'terminate');
  try {
    const result = await fn();
    return { result, exited: spy.mock.contexts.map((w) => (w as Worker).threadId === -1) };
  } catch (error) {
    return { error, exited: spy.mock.contexts.map((w) => (w as Worker).threadId === -1) };
  } finally {
    spy.mockRestore();
  }
}
