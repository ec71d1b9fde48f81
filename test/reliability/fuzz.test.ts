import type { Topic } from '@google-cloud/pubsub';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudDeployEmulator } from '../../src/emulator/deploy-emulator';
import { FunctionServer, pushBody } from '../../src/emulator/function-server';
import { PubSubFixtures } from '../../src/emulator/pubsub-fixtures';
import { describeWithPubSubEmulator, requirePubSubEmulator } from '../support/emulator-env';
import { recordFigures } from './support/figures';
import {
  deeplyNested,
  eventFor,
  mutatedShapes,
  notBase64,
  type RawData,
  randomBytes,
  randomEnvelopes,
  randomJsonText,
  randomObjects,
  runInProcess,
  SEEDED_RUNS,
  unicodeFields,
  within,
} from './support/inputs';
import {
  AuditLedger,
  doubleCancelled,
  forbiddenCalls,
  functionEnv,
  nonJsonLogLines,
} from './support/stack';

/**
 * Property-based tests over generated input: random bytes and JSON, mutations of every valid
 * shape, huge and deeply nested values, unicode and hostile keys. Each input must end with a
 * valid audit (REJECTED or a decision), never a crash or a hang, and never a Cloud Deploy call
 * for a name outside the allowlist. Seeds are fixed, so a run is repeatable.
 */

const PROPERTIES: readonly (readonly [string, fc.Arbitrary<RawData>, number])[] = [
  ['random bytes', randomBytes, 1500],
  ['data that is not base64', notBase64, 500],
  ['random JSON text', randomJsonText, 1500],
  ['random objects with shape and hostile keys', randomObjects, 1500],
  ['mutations of every valid shape', mutatedShapes, 4000],
  ['unicode and control characters in reason, requestId and labels', unicodeFields, 1000],
  ['deeply nested values', deeplyNested, 300],
];

describe('generated input through the in-process handler', () => {
  it.for(PROPERTIES)('ends every input audited: %s', async ([, arbitrary, numRuns], { task }) => {
    let inputs = 0;
    let lost = 0;
    let doubles = 0;
    let counter = 0;
    try {
      await fc.assert(
        fc.asyncProperty(arbitrary, async (data) => {
          inputs += 1;
          counter += 1;
          const result = await runInProcess(eventFor(data, `fuzz-${counter}`));
          if (result.events.length === 0) lost += 1;
          for (const count of result.deploy.cancels.values()) if (count > 1) doubles += 1;
        }),
        { numRuns, seed: 20_261_204 + numRuns, timeout: 10_000, endOnFailure: true },
      );
    } finally {
      recordFigures({ inputs, lost, doubleCancelled: doubles }, task.name);
    }
  });

  it('ends every envelope audited, even one that carries no Pub/Sub message', async ({ task }) => {
    let inputs = 0;
    try {
      await fc.assert(
        fc.asyncProperty(randomEnvelopes, async (event) => {
          inputs += 1;
          await runInProcess(event);
        }),
        { numRuns: 500, seed: 4711, timeout: 10_000, endOnFailure: true },
      );
    } finally {
      recordFigures({ inputs }, task.name);
    }
  });
});

/**
 * POSTs message data exactly as given (even when it is not base64), as a raw Pub/Sub push body
 * or as an Eventarc binary-mode CloudEvent; resolves with the HTTP status.
 */
async function post(
  url: string,
  mode: 'push' | 'cloudevent',
  messageId: string,
  data: RawData,
): Promise<number> {
  const body = pushBody({
    project: 'local-project',
    topic: 'fuzz-requests',
    message: { messageId },
  });
  body.message.data = 'raw' in data ? data.raw : data.base64;
  const headers: Record<string, string> =
    mode === 'push'
      ? { 'content-type': 'application/json' }
      : {
          'content-type': 'application/json',
          'ce-id': messageId,
          'ce-source': '//pubsub.googleapis.com/projects/local-project/topics/fuzz-requests',
          'ce-specversion': '1.0',
          'ce-type': 'google.cloud.pubsub.topic.v1.messagePublished',
          'ce-time': body.message.publishTime,
        };
  const target = mode === 'push' ? `${url}/projects/local-project/topics/fuzz-requests` : url;
  const response = await fetch(target, { method: 'POST', headers, body: JSON.stringify(body) });
  await response.text();
  return response.status;
}

describeWithPubSubEmulator('generated input through the Functions Framework', () => {
  let deploy: CloudDeployEmulator;
  let pubsub: PubSubFixtures;
  let audit: Topic;
  let ledger: AuditLedger;
  let server: FunctionServer;

  beforeAll(async () => {
    const address = requirePubSubEmulator();
    pubsub = new PubSubFixtures(address);
    deploy = await CloudDeployEmulator.start();
    for (const run of SEEDED_RUNS) deploy.seedRun({ name: run.name, state: run.state });
    audit = await pubsub.createTopic(pubsub.uniqueName('fuzz-audit'));
    ledger = new AuditLedger(pubsub, await pubsub.createPullSubscription(audit));
    server = await FunctionServer.start({
      pubsubEmulatorHost: address.host,
      cloudDeployEmulatorHost: deploy.host,
      env: functionEnv(audit.name, { DEFAULT_LOCATION: 'us-central1' }),
    });
  });

  afterAll(async () => {
    await server?.stop();
    await pubsub?.cleanup();
    await deploy?.stop();
  });

  it('acks and audits 400 generated messages, as push bodies and as CloudEvents', async () => {
    const samples = [
      ...fc.sample(randomBytes, { numRuns: 50, seed: 1 }),
      ...fc.sample(notBase64, { numRuns: 30, seed: 2 }),
      ...fc.sample(randomJsonText, { numRuns: 50, seed: 3 }),
      ...fc.sample(randomObjects, { numRuns: 50, seed: 4 }),
      ...fc.sample(mutatedShapes, { numRuns: 150, seed: 5 }),
      ...fc.sample(unicodeFields, { numRuns: 50, seed: 6 }),
      ...fc.sample(deeplyNested, { numRuns: 20, seed: 7 }),
    ];
    const statuses: number[] = [];
    const messageIds = samples.map((_, index) => `fuzz-server-${index}`);
    const deliver = async (data: RawData, index: number) => {
      const messageId = messageIds[index] as string;
      const response = await within(
        post(server.url, index % 2 === 0 ? 'push' : 'cloudevent', messageId, data),
        30_000,
        'a delivery',
      );
      statuses[index] = response;
    };
    for (let start = 0; start < samples.length; start += 8) {
      await Promise.all(
        samples.slice(start, start + 8).map((data, offset) => deliver(data, start + offset)),
      );
    }
    const accounting = await ledger.settle(
      messageIds.map((messageId) => ({ messageId, runs: [] })),
      60_000,
    );
    const doubles = doubleCancelled(deploy);
    recordFigures({
      inputs: samples.length,
      lost: accounting.lost,
      doubleCancelled: doubles.length,
    });

    // Name the inputs that went unaudited, decoded, so a failure shows what was sent.
    const unaudited = samples.flatMap((data, index) =>
      ledger.of(messageIds[index] as string).length > 0
        ? []
        : [
            ('raw' in data ? data.raw : Buffer.from(data.base64, 'base64').toString('utf8')).slice(
              0,
              200,
            ),
          ],
    );
    expect(unaudited).toEqual([]);
    expect(accounting.missing).toEqual([]);
    expect(statuses.filter((status) => status !== 204)).toEqual([]);
    expect(doubles).toEqual([]);
    expect(ledger.invalid).toEqual([]);
    expect(forbiddenCalls(deploy.calls)).toEqual([]);
    expect(nonJsonLogLines(server)).toEqual([]);
    expect(server.running).toBe(true);
  });
});
