import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type FunctionLogLine,
  FunctionServer,
  FunctionServerExitedError,
  postBinaryCloudEvent,
  postPubSubPush,
} from '../../src/emulator/function-server';
import { PubSubFixtures } from '../../src/emulator/pubsub-fixtures';
import { describeWithPubSubEmulator, requirePubSubEmulator } from '../support/emulator-env';

const echoFunction = { source: join(__dirname, '..', 'fixtures', 'echo-function'), target: 'echo' };

interface EchoedEvent {
  id?: string;
  source?: string;
  type?: string;
  specversion?: string;
  time?: string;
  subscription?: string;
  message?: { messageId?: string; attributes?: Record<string, string>; data?: string };
  data?: {
    subscription?: string;
    message?: { messageId?: string; attributes?: Record<string, string>; data?: string };
  };
}

function echoed(line: FunctionLogLine): EchoedEvent | undefined {
  return line.json?.message === 'received' ? (line.json.event as EchoedEvent) : undefined;
}

/** Every delivery of the message with this id, whichever shape it arrived in. */
function deliveriesOf(server: FunctionServer, messageId: string): EchoedEvent[] {
  return server.logs
    .map(echoed)
    .filter(
      (event): event is EchoedEvent =>
        event?.data?.message?.messageId === messageId || event?.message?.messageId === messageId,
    );
}

async function waitForDelivery(server: FunctionServer, messageId: string): Promise<EchoedEvent> {
  const line = await server.waitForLog((candidate) => {
    const event = echoed(candidate);
    return event?.data?.message?.messageId === messageId || event?.message?.messageId === messageId;
  }, 15_000);
  return echoed(line) as EchoedEvent;
}

function decode(data: string | undefined): unknown {
  return data === undefined ? undefined : JSON.parse(Buffer.from(data, 'base64').toString('utf8'));
}

describe('FunctionServer without Pub/Sub', () => {
  it('serves a binary-mode CloudEvent with its ce-* fields', async () => {
    const server = await FunctionServer.start(echoFunction);
    try {
      const result = await postBinaryCloudEvent(server.url, {
        project: 'p',
        topic: 'requests',
        id: 'event-1',
        time: '2026-01-02T03:04:05.000Z',
        message: {
          data: JSON.stringify({ hello: 'world' }),
          attributes: { a: '1' },
          messageId: 'm-1',
        },
      });
      expect(result.status).toBeLessThan(300);
      const event = await waitForDelivery(server, 'm-1');
      expect(event).toMatchObject({
        id: 'event-1',
        source: '//pubsub.googleapis.com/projects/p/topics/requests',
        type: 'google.cloud.pubsub.topic.v1.messagePublished',
        specversion: '1.0',
        time: '2026-01-02T03:04:05.000Z',
        data: { subscription: 'projects/p/subscriptions/eventarc-local' },
      });
      expect(event.data?.message?.attributes).toEqual({ a: '1' });
      expect(decode(event.data?.message?.data)).toEqual({ hello: 'world' });
    } finally {
      await server.stop();
    }
  });

  it('converts a raw push body into a CloudEvent, and answers 500 when the function throws', async () => {
    const server = await FunctionServer.start(echoFunction);
    try {
      const ok = await postPubSubPush(server.url, {
        project: 'p',
        topic: 'requests',
        message: { data: '{"n":1}', messageId: 'raw-1' },
      });
      expect(ok.status).toBeLessThan(300);
      const event = await waitForDelivery(server, 'raw-1');
      expect(event.type).toBe('google.cloud.pubsub.topic.v1.messagePublished');
      expect(event.source).toBe('//pubsub.googleapis.com/projects/p/topics/requests');
      expect(decode(event.data?.message?.data)).toEqual({ n: 1 });

      const failing = await postPubSubPush(server.url, {
        project: 'p',
        topic: 'requests',
        message: { data: '{"n":2}', attributes: { fail: 'true' }, messageId: 'raw-2' },
      });
      expect(failing.status).toBe(500);
    } finally {
      await server.stop();
    }
  });

  it('exits non-zero at start on a configuration error, with its stderr', async () => {
    const server = await FunctionServer.spawn({
      ...echoFunction,
      env: { ECHO_REQUIRED: 'NEEDED' },
    });
    const error = await server.ready().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(FunctionServerExitedError);
    const { exit } = error as FunctionServerExitedError;
    expect(exit.code).not.toBe(0);
    expect(exit.stderr).toContain('missing required variable NEEDED');
    expect(server.running).toBe(false);
  });

  it('passes only the environment it is given', async () => {
    // The test runner sets VITEST in its own environment; the function must not see it.
    expect(process.env.VITEST).toBeDefined();
    const server = await FunctionServer.spawn({
      ...echoFunction,
      env: { ECHO_REQUIRED: 'VITEST' },
    });
    const error = await server.ready().catch((caught: unknown) => caught);
    expect((error as FunctionServerExitedError).exit.stderr).toContain(
      'missing required variable VITEST',
    );
  });

  it('dies on SIGKILL and serves again on the same port after restart', async () => {
    const server = await FunctionServer.start(echoFunction);
    try {
      const exit = await server.kill('SIGKILL');
      expect(exit.signal).toBe('SIGKILL');
      expect(server.running).toBe(false);
      await expect(
        postPubSubPush(server.url, { project: 'p', topic: 't', message: { data: '{}' } }),
      ).rejects.toThrow();

      await server.restart();
      const result = await postPubSubPush(server.url, {
        project: 'p',
        topic: 't',
        message: { data: '{}', messageId: 'after-restart' },
      });
      expect(result.status).toBeLessThan(300);
      await waitForDelivery(server, 'after-restart');
    } finally {
      await server.stop();
    }
  });
});

describeWithPubSubEmulator('FunctionServer fed by an emulator push subscription', () => {
  let server: FunctionServer;
  let fixtures: PubSubFixtures;

  beforeAll(async () => {
    const emulator = requirePubSubEmulator();
    fixtures = new PubSubFixtures(emulator);
    server = await FunctionServer.start({ ...echoFunction, pubsubEmulatorHost: emulator.host });
  });

  afterAll(async () => {
    await fixtures?.cleanup();
    await server?.stop();
  });

  async function pushTopic() {
    const topic = await fixtures.createTopic();
    const subscription = await fixtures.createPushSubscription(
      topic,
      server.pushEndpoint(topic.name),
    );
    return { topic, subscription };
  }

  it('delivers a published message, converted to a CloudEvent', async () => {
    const { topic } = await pushTopic();
    const messageId = await fixtures.publishJson(topic, { hello: 'push' }, { kind: 'json' });
    const event = await waitForDelivery(server, messageId);
    expect(event.type).toBe('google.cloud.pubsub.topic.v1.messagePublished');
    expect(event.source).toBe(`//pubsub.googleapis.com/${topic.name}`);
    expect(event.id).toBe(messageId);
    expect(event.data?.message?.attributes).toEqual({ kind: 'json' });
    expect(decode(event.data?.message?.data)).toEqual({ hello: 'push' });
  });

  it('redelivers after a 500, following the retry policy', async () => {
    const { topic, subscription } = await pushTopic();
    const published = Date.now();
    const messageId = await fixtures.publishJson(topic, { retry: true }, { fail: 'true' });
    await server.waitForLog(() => deliveriesOf(server, messageId).length >= 3, 30_000);
    await fixtures.deleteSubscription(subscription);
    const times = server.logs
      .filter((line) => {
        const event = echoed(line);
        return event?.data?.message?.messageId === messageId;
      })
      .map((line) => line.at);
    const gaps = times.slice(1).map((time, index) => time - (times[index] ?? time));
    expect((times[0] ?? Number.POSITIVE_INFINITY) - published).toBeLessThan(2_000);
    // minimumBackoff 1 s, maximumBackoff 2 s.
    for (const gap of gaps.slice(0, 2)) {
      expect(gap).toBeGreaterThanOrEqual(900);
      expect(gap).toBeLessThan(5_000);
    }
  });

  it('passes a message with empty data through unconverted', async () => {
    const { topic, subscription } = await pushTopic();
    const messageId = await fixtures.publishRaw(topic, Buffer.alloc(0), { only: 'attributes' });
    const event = await waitForDelivery(server, messageId);
    // The framework converts only bodies with message.data, so the raw push body is the event.
    expect(event.type).toBeUndefined();
    expect(event.id).toBeUndefined();
    expect(event.subscription).toBe(subscription.name);
    expect(event.message?.attributes).toEqual({ only: 'attributes' });
    expect(event.message?.data).toBe('');
    // The helper sends the same shape, so tests without the emulator can reproduce it.
    const direct = await postPubSubPush(server.url, {
      project: fixtures.project,
      topic: topic.name.split('/').at(-1) ?? '',
      subscription: subscription.name,
      message: { data: '', attributes: { only: 'attributes' }, messageId: 'direct-empty' },
    });
    expect(direct.status).toBeLessThan(300);
    const directEvent = await waitForDelivery(server, 'direct-empty');
    expect(Object.keys(directEvent).sort()).toEqual(Object.keys(event).sort());
    expect(Object.keys(directEvent.message ?? {}).sort()).toEqual(
      Object.keys(event.message ?? {}).sort(),
    );
  });
});
