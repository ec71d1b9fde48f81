import { execFileSync, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEPLOYED_NODE_OPTIONS } from '../src/bundle-loader';

/**
 * The deployed artifact: package.json `main` and the files beside it, which `npm run build`
 * writes (`npm test` builds first).
 */
const REPOSITORY_ROOT = join(__dirname, '..');
const main = (
  JSON.parse(readFileSync(join(REPOSITORY_ROOT, 'package.json'), 'utf8')) as {
    main: string;
  }
).main;
const DEPLOYED = join(REPOSITORY_ROOT, dirname(main));
const LOADER = join(REPOSITORY_ROOT, 'dist', 'src', 'bundle-loader.js');

const ENV = {
  PATH: process.env.PATH ?? '',
  NODE_OPTIONS: DEPLOYED_NODE_OPTIONS,
  AUDIT_TOPIC: 'projects/my-proj/topics/audit',
  ALLOWED_PIPELINES: 'projects/my-proj/locations/*/deliveryPipelines/*',
};

/**
 * Loads a deployed directory's bundle as `main` does and reports what that did: whether the
 * function registered, whether the code cache was used, and which modules the bundle required. The process exits before the background warm-up could connect anywhere.
 */
function probe(directory: string, env: Record<string, string> = ENV) {
  const script = `
const Module = require('node:module');
const { loadBundle } = require(${JSON.stringify(LOADER)});
const required = new Set();
const load = Module._load;
Module._load = function (request, parent, ...rest) {
  if (parent?.filename?.endsWith('function.js')) required.add(request);
  return load.call(this, request, parent, ...rest);
};
const loaded = loadBundle(${JSON.stringify(directory)});
Module._load = load;
const { getFunction } = require('@google-cloud/functions-framework/testing');
process.stdout.write(JSON.stringify({
  registered: typeof getFunction('cancelAutomationRuns'),
  codeCache: loaded.codeCache,
  required: [...required].sort(),
}));
process.exit(0);
`;
  return JSON.parse(
    execFileSync(process.execPath, ['-e', script], { cwd: REPOSITORY_ROOT, env, encoding: 'utf8' }),
  ) as { registered: string; codeCache: string; required: string[] };
}

const scratch: string[] = [];
afterAll(() => {
  for (const directory of scratch) rmSync(directory, { recursive: true, force: true });
});

/** A copy of the deployed directory inside this repository, so node_modules resolves. */
function copyOfDeployed(): string {
  const directory = mkdtempSync(join(REPOSITORY_ROOT, 'dist', 'bundle-test-'));
  scratch.push(directory);
  cpSync(DEPLOYED, directory, { recursive: true });
  return directory;
}

describe('the built entry point', () => {
  it('is what package.json main names, with the bundle and its code cache beside it', () => {
    expect(main).toBe('dist/function/index.js');
    for (const file of ['index.js', 'function.js', 'function.js.cache']) {
      expect(existsSync(join(DEPLOYED, file)), file).toBe(true);
    }
  });

  it('registers the function from the code cache, needing only the framework and Node.js', () => {
    const result = probe(DEPLOYED);
    expect(result.registered).toBe('function');
    expect(result.codeCache).toBe('used');
    const outside = result.required.filter((name) => !name.startsWith('node:'));
    // Node.js built-ins the libraries name without the prefix, and the framework.
    const builtins = new Set(builtinModules);
    expect(outside.filter((name) => !builtins.has(name))).toEqual([
      '@google-cloud/functions-framework',
    ]);
  });

  it('compiles the bundle under other Node.js flags, whose code V8 will not take', () => {
    expect(probe(DEPLOYED, { ...ENV, NODE_OPTIONS: '' })).toMatchObject({
      registered: 'function',
      codeCache: 'rejected-by-v8',
    });
  });

  it('says once, at start, that it compiled instead', () => {
    const script = `require(${JSON.stringify(join(REPOSITORY_ROOT, main))}); process.exit(0);`;
    const quiet = execFileSync(process.execPath, ['-e', script], { env: ENV, encoding: 'utf8' });
    expect(quiet).toBe('');
    const told = execFileSync(process.execPath, ['-e', script], {
      env: { ...ENV, NODE_OPTIONS: '' },
      encoding: 'utf8',
    });
    expect(told.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(told)).toMatchObject({ severity: 'INFO', codeCache: 'rejected-by-v8' });
  });

  it('compiles the bundle when its code cache is missing', () => {
    const directory = copyOfDeployed();
    rmSync(join(directory, 'function.js.cache'));
    expect(probe(directory)).toMatchObject({ registered: 'function', codeCache: 'missing' });
  });

  it('ignores a code cache made for another bundle', () => {
    const directory = copyOfDeployed();
    appendFileSync(join(directory, 'function.js'), '\n// another build\n');
    expect(probe(directory)).toMatchObject({ registered: 'function', codeCache: 'other-bundle' });
  });

  it('ignores a code cache V8 cannot read', () => {
    const directory = copyOfDeployed();
    const cache = readFileSync(join(directory, 'function.js.cache'));
    // Same bundle digest, garbage after it.
    cache.fill(7, 32);
    writeFileSync(join(directory, 'function.js.cache'), cache);
    expect(probe(directory)).toMatchObject({
      registered: 'function',
      codeCache: 'rejected-by-v8',
    });
  });

  it('stops at start with one line naming a missing variable', () => {
    const result = spawnSync(process.execPath, [join(REPOSITORY_ROOT, main)], {
      cwd: tmpdir(),
      env: { PATH: ENV.PATH, ALLOWED_PIPELINES: ENV.ALLOWED_PIPELINES },
      encoding: 'utf8',
    });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('AUDIT_TOPIC');
  });
});
