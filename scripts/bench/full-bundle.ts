/**
 * A build that bundles the Google libraries too (only the Functions Framework stays
 * external, since the function must register with the framework that loads it). Not what
 * is deployed: the libraries read files next to their own sources at run time, which a
 * single file cannot carry, so this exists only to measure what bundling them would save.
 */
import { join } from 'node:path';
import { build } from 'esbuild';

export async function buildFullBundle(repositoryRoot: string, outfile: string): Promise<string> {
  await build({
    entryPoints: [join(repositoryRoot, 'src', 'index.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    minify: true,
    keepNames: true,
    external: ['@google-cloud/functions-framework'],
    outfile,
    logLevel: 'error',
  });
  return outfile;
}
