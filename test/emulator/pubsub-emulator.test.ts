import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PubSubEmulator, PubSubEmulatorUnavailableError } from '../../src/emulator/pubsub-emulator';
import { PubSubFixtures } from '../../src/emulator/pubsub-fixtures';
import { describeWithPubSubEmulator } from '../support/emulator-env';

/** Live processes whose command line names the port: gcloud, python and java all do. */
function processesOnPort(port: number): string[] {
  const listing = execFileSync('ps', ['-eo', 'stat=,args='], { encoding: 'utf8' });
  return listing
    .split('\n')
    .filter((line) => !line.trim().startsWith('Z'))
    .filter((line) => line.includes(`127.0.0.1:${port}`) || line.includes(`--port=${port}`));
}

async function answers(host: string): Promise<boolean> {
  try {
    return (await (await fetch(`http://${host}/`)).text()).trim() === 'Ok';
  } catch {
    return false;
  }
}

const scratch = mkdtempSync(join(tmpdir(), 'pubsub-emulator-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function fakeGcloud(name: string, script: string, withSdkLayout: boolean): string {
  const root = join(scratch, name);
  mkdirSync(join(root, 'bin'), { recursive: true });
  if (withSdkLayout) {
    mkdirSync(join(root, 'lib'), { recursive: true });
    writeFileSync(join(root, 'lib', 'gcloud.py'), '');
  }
  const path = join(root, 'bin', 'gcloud');
  writeFileSync(path, `#!/bin/sh\n${script}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe('PubSubEmulator when it cannot run', () => {
  it.each([
    ['gcloud is not on PATH', { env: { PATH: scratch } }],
    ['the gcloud path does not exist', { gcloudPath: join(scratch, 'nowhere', 'gcloud') }],
  ])('says in one line how to install gcloud when %s', async (_case, options) => {
    const error = await PubSubEmulator.start(options).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PubSubEmulatorUnavailableError);
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    expect(message).toContain('gcloud is not on PATH');
    expect(message).toContain('gcloud components install pubsub-emulator beta');
  });

  it('names the missing component and its install command when the SDK lacks it', async () => {
    const gcloudPath = fakeGcloud('no-component', 'exit 1', true);
    const error = await PubSubEmulator.start({ gcloudPath }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PubSubEmulatorUnavailableError);
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    expect(message).toMatch(/pubsub-emulator is not installed in .*no-component/);
    expect(message).toContain('`gcloud components install pubsub-emulator beta`');
  });

  it('turns gcloud refusing to start without the component into one line', async () => {
    const gcloudPath = fakeGcloud(
      'refuses',
      [
        'echo "Executing: something" >&2',
        'echo "ERROR: (gcloud.beta.emulators.pubsub.start) You need the [pubsub-emulator] component to use the Google Cloud Pub/Sub emulator." >&2',
        'exit 1',
      ].join('\n'),
      false,
    );
    const error = await PubSubEmulator.start({ gcloudPath }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PubSubEmulatorUnavailableError);
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    expect(message).toContain('You need the [pubsub-emulator] component');
    expect(message).toContain('gcloud components install pubsub-emulator beta');
  });

  it('reports the last error line when the emulator dies for another reason', async () => {
    const gcloudPath = fakeGcloud('crashes', 'echo "ERROR: address in use" >&2\nexit 3', false);
    const error = await PubSubEmulator.start({ gcloudPath }).catch((caught: unknown) => caught);
    expect(error).not.toBeInstanceOf(PubSubEmulatorUnavailableError);
    expect((error as Error).message).toBe(
      'Pub/Sub emulator failed to start (exit code 3): ERROR: address in use',
    );
  });
});

// Starts emulators of its own: the run's shared one must never be restarted.
describeWithPubSubEmulator('PubSubEmulator', () => {
  it('starts, answers, and leaves no process behind once stopped, twice over', async () => {
    const emulator = await PubSubEmulator.start({ project: 'emulator-test' });
    try {
      expect(emulator.host).toBe(`127.0.0.1:${emulator.port}`);
      expect(await answers(emulator.host)).toBe(true);
      // gcloud, its python and the java server: all three share the port in their arguments.
      expect(processesOnPort(emulator.port).some((line) => line.includes('java'))).toBe(true);
    } finally {
      await emulator.stop();
    }
    expect(processesOnPort(emulator.port)).toEqual([]);
    expect(await answers(emulator.host)).toBe(false);
    await emulator.stop();
    await expect(emulator.startAgain()).rejects.toThrow(/stopped for good/);
  });

  it('starts again on the same port, with nothing kept from before', async () => {
    const emulator = await PubSubEmulator.start({ project: 'emulator-test' });
    const fixtures = new PubSubFixtures(emulator);
    try {
      const topic = await fixtures.createTopic('kept-or-not');
      await fixtures.publishJson(topic, { before: true });

      await emulator.stopProcess();
      expect(emulator.running).toBe(false);
      expect(processesOnPort(emulator.port)).toEqual([]);
      expect(await answers(emulator.host)).toBe(false);

      await emulator.startAgain();
      expect(emulator.running).toBe(true);
      expect(await answers(`127.0.0.1:${emulator.port}`)).toBe(true);
      const [exists] = await fixtures.pubsub.topic('kept-or-not').exists();
      expect(exists).toBe(false);

      fixtures.forgetResources();
      const again = await fixtures.createTopic('kept-or-not');
      const subscription = await fixtures.createPullSubscription(again);
      await fixtures.publishJson(again, { after: true });
      const [message] = await fixtures.collect(subscription, { count: 1 });
      expect(message?.data).toEqual({ after: true });
    } finally {
      await fixtures.cleanup();
      await emulator.stop();
    }
    expect(processesOnPort(emulator.port)).toEqual([]);
  });
});
