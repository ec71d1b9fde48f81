/**
 * Runs the bundled function with V8's code cache.
 *
 * Most of a cold start is V8 compiling the client libraries. The build runs the bundle once
 * (scripts/build/code-cache.ts) and saves the compiled code next to it; an instance then
 * loads that instead of compiling. A cache is used only for the exact bundle it was made
 * from, and V8 itself refuses one from another Node.js version or other flags; either way
 * the bundle is compiled as usual, only slower. The entry point logs why when that happens.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { constants, Script } from 'node:vm';

/**
 * The Node.js flags a deployed instance runs with: Terraform sets `NODE_OPTIONS` to them.
 * A 4 MiB young generation (V8's default grows to 16 MiB, twice over) keeps a sweep of
 * 1,000 runs inside 128 MiB. V8 accepts a code cache only under the flags it was made
 * with, so the build makes it under these.
 */
export const DEPLOYED_NODE_OPTIONS = '--max-semi-space-size=4';

/** The bundle and its code cache, both in the deployed directory (`dist/function`). */
export const BUNDLE_FILE = 'function.js';
export const CODE_CACHE_FILE = 'function.js.cache';

/** A cache file is this digest of the bundle's bytes, then V8's data. */
const DIGEST = 'sha256';
const DIGEST_BYTES = 32;

export interface LoadedBundle {
  /** What the bundle's module exports. */
  readonly exports: unknown;
  /** `used`, or why the bundle was compiled instead. */
  readonly codeCache: 'used' | 'missing' | 'other-bundle' | 'rejected-by-v8';
  /** V8's code for everything compiled so far, for {@link writeCodeCache}. */
  readonly script: Script;
  readonly digest: Buffer;
}

function readCache(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Loads `directory`'s bundle as a CommonJS module, from its code cache when that fits. */
export function loadBundle(directory: string): LoadedBundle {
  const filename = join(directory, BUNDLE_FILE);
  const bytes = readFileSync(filename);
  const digest = createHash(DIGEST).update(bytes).digest();
  const cache = readCache(join(directory, CODE_CACHE_FILE));
  const fits = cache !== undefined && digest.equals(cache.subarray(0, DIGEST_BYTES));
  // The bundle is ASCII (esbuild escapes the rest), so latin1 decodes it exactly and fastest.
  const source = bytes.toString('latin1');
  const script = new Script(
    `(function (exports, require, module, __filename, __dirname) {${source}\n})`,
    {
      filename,
      importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
      ...(fits ? { cachedData: cache.subarray(DIGEST_BYTES) } : {}),
    },
  );
  const module = { exports: {} as unknown };
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  run.call(module.exports, module.exports, createRequire(filename), module, filename, directory);
  let codeCache: LoadedBundle['codeCache'] = 'used';
  if (cache === undefined) codeCache = 'missing';
  else if (!fits) codeCache = 'other-bundle';
  else if (script.cachedDataRejected === true) codeCache = 'rejected-by-v8';
  return { exports: module.exports, codeCache, script, digest };
}

/** Saves the code V8 has compiled for `bundle` so far as its directory's code cache. */
export function writeCodeCache(bundle: LoadedBundle, directory: string): number {
  const data = Buffer.concat([bundle.digest, bundle.script.createCachedData()]);
  writeFileSync(join(directory, CODE_CACHE_FILE), data);
  return data.length;
}
