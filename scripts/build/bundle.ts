/**
 * `npm run bundle`: the deployed build, in `dist/function/`.
 *
 * - `function.js`: the function, zod and the Google client libraries in one file, so an
 *   instance reads one module instead of hundreds. Only the Functions Framework stays
 *   outside: the function must register with the framework that loads it. Each client's
 *   protos JSON is trimmed to the methods the function calls (trim-protos.ts).
 * - `function.js.cache`: V8's compiled code for it (code-cache.ts).
 * - `index.js`, package.json `main`: loads the two (src/bundle-loader.ts).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { BUNDLE_FILE } from '../../src/bundle-loader';
import { DEPLOY_METHODS } from '../../src/cloud-deploy';
import { PUBSUB_METHODS } from '../../src/pubsub-audit';
import { buildCodeCache } from './code-cache';
import { type KeptMethods, trimProtos } from './trim-protos';

const REPOSITORY_ROOT = join(__dirname, '..', '..', '..');
export const DEPLOYED_DIRECTORY = join(REPOSITORY_ROOT, 'dist', 'function');

/** Protos JSON files in the bundle, by path below node_modules, and what each keeps. */
export const TRIMMED_PROTOS: Readonly<Record<string, KeptMethods>> = {
  '@google-cloud/deploy/build/protos/protos.json': {
    'google.cloud.deploy.v1.CloudDeploy': DEPLOY_METHODS,
  },
  '@google-cloud/pubsub/build/protos/protos.json': { 'google.pubsub.v1.Publisher': PUBSUB_METHODS },
  // The IAM and Locations mixins every generated client builds; the function calls neither.
  'google-gax/build/protos/iam_service.json': {},
  'google-gax/build/protos/locations.json': {},
  // The Operations client every client with long-running methods builds, kept whole; only
  // the descriptor.proto copy that its method options drag in goes.
  'google-gax/build/protos/operations.json': {
    'google.longrunning.Operations': [
      'ListOperations',
      'GetOperation',
      'DeleteOperation',
      'CancelOperation',
      'WaitOperation',
    ],
  },
};

/**
 * Modules the bundle replaces with an empty one. google-gax's entry loads the generated
 * message classes of its IAM, Locations and Operations mixins only to re-export them;
 * nothing the function calls reads them.
 */
export const EMPTIED_MODULES: readonly string[] = [
  'google-gax/build/protos/iam_service.js',
  'google-gax/build/protos/locations.js',
  'google-gax/build/protos/operations.js',
];

function packagePath(path: string): string | undefined {
  const normalized = path.split('\\').join('/');
  const index = normalized.lastIndexOf('/node_modules/');
  return index === -1 ? undefined : normalized.slice(index + '/node_modules/'.length);
}

/**
 * Replaces each file in {@link TRIMMED_PROTOS} with its trimmed form and each one in
 * {@link EMPTIED_MODULES} with an empty module, noting which it met.
 */
function trimmedProtosPlugin(trimmed: Set<string>): Plugin {
  return {
    name: 'trimmed-protos',
    setup(setup) {
      setup.onLoad({ filter: /[\\/]protos[\\/][^\\/]+\.js$/ }, (args) => {
        const key = packagePath(args.path);
        if (key === undefined || !EMPTIED_MODULES.includes(key)) return undefined;
        trimmed.add(key);
        return { contents: 'module.exports = {};', loader: 'js' };
      });
      setup.onLoad({ filter: /[\\/]protos[\\/][^\\/]+\.json$/ }, async (args) => {
        const key = packagePath(args.path);
        const kept = key === undefined ? undefined : TRIMMED_PROTOS[key];
        if (key === undefined || kept === undefined) return undefined;
        const json = JSON.parse(await readFile(args.path, 'utf8'));
        trimmed.add(key);
        return { contents: JSON.stringify(trimProtos(json, kept)), loader: 'json' };
      });
    },
  };
}

const COMMON = {
  absWorkingDir: REPOSITORY_ROOT,
  bundle: true,
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
} as const;

/** Builds `directory` (default dist/function); resolves with the function's build metadata. */
export async function bundle(directory = DEPLOYED_DIRECTORY, options = { codeCache: true }) {
  const trimmed = new Set<string>();
  const result = await build({
    ...COMMON,
    entryPoints: [join(REPOSITORY_ROOT, 'src', 'index.ts')],
    // Names kept: libraries in the bundle read constructor names at run time.
    minify: true,
    keepNames: true,
    sourcemap: true,
    // ASCII output, which the loader decodes as latin1.
    charset: 'ascii',
    external: ['@google-cloud/functions-framework'],
    outfile: join(directory, BUNDLE_FILE),
    metafile: true,
    plugins: [trimmedProtosPlugin(trimmed)],
  });
  const missing = [...Object.keys(TRIMMED_PROTOS), ...EMPTIED_MODULES].filter(
    (key) => !trimmed.has(key),
  );
  if (missing.length > 0) throw new Error(`the bundle no longer loads ${missing.join(', ')}`);
  await build({
    ...COMMON,
    entryPoints: [join(REPOSITORY_ROOT, 'src', 'main.ts')],
    outfile: join(directory, 'index.js'),
  });
  if (options.codeCache) await buildCodeCache(directory);
  return result;
}

if (require.main === module) {
  bundle().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
