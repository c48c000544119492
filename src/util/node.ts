/**
 * Node built-ins for the file-path entry points, imported lazily through computed specifiers so
 * that browser bundlers never try to resolve them (calling these in a browser rejects).
 */

/** `node:fs/promises`. */
export async function nodeFs(): Promise<typeof import('node:fs/promises')> {
  const specifier = 'node:fs/promises';
  return (await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier)) as typeof import('node:fs/promises');
}

/** `node:path`. */
export async function nodePath(): Promise<typeof import('node:path')> {
  const specifier = 'node:path';
  return (await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier)) as typeof import('node:path');
}

/** `node:fs` (the synchronous API). */
export async function nodeFsSync(): Promise<typeof import('node:fs')> {
  const specifier = 'node:fs';
  return (await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier)) as typeof import('node:fs');
}
