import type { Subscription } from '@google-cloud/pubsub';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildAuditEvent } from '../src/audit-builder';
import type { AuditEvent } from '../src/audit-event';
import { runDecision } from '../src/decision';
import { PubSubFixtures } from '../src/emulator/pubsub-fixtures';
import { createPubSubAuditPort } from '../src/pubsub-audit';
import { describeWithPubSubEmulator, requirePubSubEmulator } from './support/emulator-env';
import { TcpListener } from './support/tcp-listener';

const PIPELINE = 'projects/my-proj/locations/us-central1/deliveryPipelines/web';

function buildEvent(index: number): AuditEvent {
  return buildAuditEvent(
    runDecision('CANCELLED', {
      name: `${PIPELINE}/automationRuns/run-${index}`,
      pipeline: PIPELINE,
    }),
    {
      source: 'SWEEP',
      messageId: `message-${index}`,
      publishTime: null,
      requestId: null,
      incidentId: null,
      policyName: null,
      reason: 'nightly cleanup',
      dryRun: false,
    },
    new Date('2026-12-04T10:00:00.000Z'),
  );
}

describeWithPubSubEmulator('the Pub/Sub audit port', () => {
  let pubsub: PubSubFixtures;
  let topic: string;
  let subscription: Subscription;

  beforeAll(async () => {
    const address = requirePubSubEmulator();
    pubsub = new PubSubFixtures(address);
    const created = await pubsub.createTopic();
    topic = created.name;
    subscription = await pubsub.createPullSubscription(created);
  });

  afterAll(async () => {
    await pubsub?.cleanup();
  });

  it('publishes a burst of events in shared requests and resolves each once accepted', async () => {
    const port = createPubSubAuditPort({
      topic,
      emulatorHost: requirePubSubEmulator().host,
      maxBatchMessages: 40,
    });
    const events = Array.from({ length: 250 }, (_, index) => buildEvent(index));
    await Promise.all(events.map((event) => port.publishAudit(event)));
    // A lone event after the burst goes out on its own.
    await port.publishAudit(buildEvent(250));
    await port.close();

    const received = await pubsub.collect(subscription, { count: 251, timeoutMs: 20_000 });
    expect(received).toHaveLength(251);
    const byRun = new Map(
      received.map((message) => [(message.data as AuditEvent).automationRun, message]),
    );
    for (const event of [...events, buildEvent(250)]) {
      const message = byRun.get(event.automationRun);
      expect(message?.data).toEqual(event);
      expect(message?.attributes).toEqual({
        outcome: 'CANCELLED',
        source: 'SWEEP',
        pipeline: PIPELINE,
      });
    }
  });

  it('rejects every event of a request the service refuses', async () => {
    const port = createPubSubAuditPort({
      topic: `projects/${requirePubSubEmulator().project}/topics/${pubsub.uniqueName('missing')}`,
      emulatorHost: requirePubSubEmulator().host,
    });
    const results = await Promise.allSettled(
      [0, 1, 2].map((index) => port.publishAudit(buildEvent(index))),
    );
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected', 'rejected']);
    await port.close();
  });

  it('connects before the first publish when warmed up, and publishes as usual', async () => {
    const listener = await TcpListener.start();
    try {
      const warmed = createPubSubAuditPort({ topic, emulatorHost: listener.host });
      warmed.warmUp();
      await listener.connected();
      await warmed.close();
    } finally {
      await listener.stop();
    }
    const port = createPubSubAuditPort({ topic, emulatorHost: requirePubSubEmulator().host });
    port.warmUp();
    await expect(port.publishAudit(buildEvent(900))).resolves.toBeUndefined();
    await port.close();
  });

  it('closes without having published', async () => {
    const port = createPubSubAuditPort({ topic, emulatorHost: requirePubSubEmulator().host });
    await expect(port.close()).resolves.toBeUndefined();
  });
});
