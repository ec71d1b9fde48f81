import type { TestProject } from 'vitest/node';
import {
  isPubSubEmulatorUnavailableError,
  PubSubEmulator,
} from '../../src/emulator/pubsub-emulator';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `host:port` of the run's Pub/Sub emulator; null when it could not start. */
    pubsubEmulatorHost: string | null;
    pubsubEmulatorProject: string;
    /** Why there is no emulator: one line with the fix. */
    pubsubEmulatorUnavailable: string | null;
  }
}

/**
 * Starts one Pub/Sub emulator for the whole run. Without one, tests that need it are
 * skipped, except on CI, where a missing emulator must fail the run rather than hide tests.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const projectId = 'local-project';
  project.provide('pubsubEmulatorProject', projectId);
  let emulator: PubSubEmulator;
  try {
    emulator = await PubSubEmulator.start({ project: projectId });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (process.env.CI === 'true' || !isPubSubEmulatorUnavailableError(error)) throw error;
    console.warn(`Skipping the tests that need the Pub/Sub emulator. ${reason}`);
    project.provide('pubsubEmulatorHost', null);
    project.provide('pubsubEmulatorUnavailable', reason);
    return async () => {};
  }
  project.provide('pubsubEmulatorHost', emulator.host);
  project.provide('pubsubEmulatorUnavailable', null);
  return async () => {
    await emulator.stop();
  };
}
