/**
 * Loads the optional peer `@lancedb/lancedb` (and the `apache-arrow` it depends on) only when a
 * LanceDB store is asked for, through Node's `require` so that browser bundlers never see it.
 *
 * @module
 */

import type * as LanceDB from '@lancedb/lancedb';
import type * as Arrow from 'apache-arrow';

/** The LanceDB version this library is tested with (an optional peer dependency). */
export const LANCEDB_VERSION = '0.31.0';

/** The two modules a LanceDB store needs. */
export interface LanceModules {
  lancedb: typeof LanceDB;
  /** The very `apache-arrow` instance that `@lancedb/lancedb` loads (its tables must be built with it). */
  arrow: typeof Arrow;
}

let loaded: Promise<LanceModules> | undefined;

async function load(name: string): Promise<LanceModules> {
  if (typeof process === 'undefined' || !process.versions?.node) {
    throw new Error('lanceStore: LanceDB runs in Node only (it is a native module); in browsers use memoryStore()');
  }
  const specifier = 'node:module';
  const { createRequire } = (await import(
    /* @vite-ignore */ /* webpackIgnore: true */ specifier
  )) as typeof import('node:module');
  const here: string = typeof __filename === 'string' ? __filename : (import.meta as { url: string }).url;
  const require = createRequire(here);
  let main: string;
  try {
    main = require.resolve(name);
  } catch (cause) {
    throw new Error(
      `lanceStore: the optional peer dependency ${name} is not installed: run \`npm install ${name}@${LANCEDB_VERSION}\` (it brings its own peer, apache-arrow)`,
      { cause },
    );
  }
  const lancedb = require(main) as typeof LanceDB;
  // Arrow tables handed to LanceDB must come from the apache-arrow instance LanceDB itself loads:
  // LanceDB 0.31's conversion of a foreign instance's record batches drops their columns.
  const arrow = createRequire(main)('apache-arrow') as typeof Arrow;
  return { lancedb, arrow };
}

/**
 * `@lancedb/lancedb` and its `apache-arrow`, loaded once. Rejects with the install command when
 * absent. `name` exists for tests (a package that is not installed).
 */
export function loadLance(name = '@lancedb/lancedb'): Promise<LanceModules> {
  if (name !== '@lancedb/lancedb') return load(name);
  loaded ??= load(name).catch((e) => {
    loaded = undefined;
    throw e;
  });
  return loaded;
}
