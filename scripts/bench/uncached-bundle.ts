/**
 * The deployed build without its code cache, to show what the cache saves: the same bundle
 * and loader, written to another directory by the same build step.
 */
import { bundle } from '../build/bundle';

export async function buildUncachedBundle(directory: string): Promise<string> {
  await bundle(directory, { codeCache: false });
  return directory;
}
