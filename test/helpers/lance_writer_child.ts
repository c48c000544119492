/**
 * Child process of the LanceDB crash test: opens `lanceStore(dir)` and adds the deterministic rows
 * `normalisedRows(total, dim, seed)` in batches, skipping ids already stored (as a resumed build
 * does), printing `stored <count>` after each batch. The test SIGKILLs it midway.
 * Usage: node --import tsx test/helpers/lance_writer_child.ts DIR TOTAL BATCH DIM SEED
 */
import { lanceStore } from '../../src/search/stores/lancedb';
import { normalisedRows, stack } from './synthetic_rows';

const [dir, total, batch, dim, seed] = process.argv.slice(2);
const rows = normalisedRows(Number(total), Number(dim), Number(seed));
const store = await lanceStore(dir, { indexMinRows: null });
const stored = await store.has(rows.map((r) => r.id));
const todo = rows.filter((_, i) => !stored[i]);
for (let i = 0; i < todo.length; i += Number(batch)) {
  const part = todo.slice(i, i + Number(batch));
  await store.add(
    part.map((r) => r.id),
    stack(part),
    part.map((r) => ({ source: r.id })),
  );
  process.stdout.write(`stored ${await store.count()}\n`);
}
await store.close();
process.stdout.write('done\n');
