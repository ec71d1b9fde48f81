import { describe, inject } from 'vitest';
import type { EmulatorAddress } from '../../src/emulator/pubsub-fixtures';

const host = inject('pubsubEmulatorHost');

/** Why the run has no Pub/Sub emulator, or undefined when it has one. */
export const pubsubEmulatorMissing: string | undefined =
  host === undefined
    ? 'the Pub/Sub emulator is not set up: add test/support/global-setup.ts to globalSetup in vitest.config.mts'
    : (inject('pubsubEmulatorUnavailable') ?? undefined);

/** `describe` that skips its tests when the run has no Pub/Sub emulator. */
export const describeWithPubSubEmulator = describe.skipIf(pubsubEmulatorMissing !== undefined);

/**
 * The run's shared Pub/Sub emulator. Without one it skips the calling test when given its
 * context, and throws otherwise. Never restart the shared emulator: start your own for that.
 */
export function requirePubSubEmulator(context?: {
  skip: (note?: string) => void;
}): EmulatorAddress {
  if (pubsubEmulatorMissing !== undefined || host === undefined || host === null) {
    const reason = pubsubEmulatorMissing ?? 'the Pub/Sub emulator did not start';
    context?.skip(reason);
    throw new Error(reason);
  }
  return { host, project: inject('pubsubEmulatorProject') };
}
