import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Topic } from '@google-cloud/pubsub';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit-event';
import { auditEventSchema } from '../../src/audit-event';
import { CloudDeployEmulator } from '../../src/emulator/deploy-emulator';
import {
  FunctionServer,
  postBinaryCloudEvent,
  postPubSubPush,
} from '../../src/emulator/function-server';
import { PubSubFixtures } from '../../src/emulator/pubsub-fixtures';
import { AuditInbox } from '../support/audit-inbox';
import { describeWithPubSubEmulator, requirePubSubEmulator } from '../support/emulator-env';

/**
 * The whole path, real parts only: the Pub/Sub emulator pushes to the Functions Framework
 * server running the built function, which talks to the Cloud Deploy emulator through the
 * real client and publishes audit events that are pulled back from the emulator.
 */

const WEB = 'projects/my-proj/locations/us-central1/deliveryPipelines/web';
const CHECKOUT = 'projects/shop-prod/locations/us-central1/deliveryPipelines/checkout';
const CAPPED = 'projects/my-proj/locations/us-central1/deliveryPipelines/capped';
const SWEPT = 'projects/my-proj/locations/us-central1/deliveryPipelines/swept';
const DENIED_PIPELINE = 'projects/other-proj/locations/us-central1/deliveryPipelines/web';
const MAX_RUNS = 5;
const run = (pipeline: string, id: string) => `${pipeline}/automationRuns/${id}`;
const example = (file: string) =>
  JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'monitoring', file), 'utf8')) as Record<
    string,
    unknown
  >;

describeWithPubSubEmulator('cancelAutomationRuns end to end', () => {
  let deploy: CloudDeployEmulator;
  let server: FunctionServer;
  let pubsub: PubSubFixtures;
  let requests: Topic;
  let inbox: AuditInbox;

  beforeAll(async () => {
    const address = requirePubSubEmulator();
    pubsub = new PubSubFixtures(address);
    deploy = await CloudDeployEmulator.start();
    requests = await pubsub.createTopic(pubsub.uniqueName('requests'));
    const auditTopic = await pubsub.createTopic(pubsub.uniqueName('audit'));
    inbox = new AuditInbox(pubsub, await pubsub.createPullSubscription(auditTopic));
    server = await FunctionServer.start({
      pubsubEmulatorHost: address.host,
      cloudDeployEmulatorHost: deploy.host,
      env: {
        AUDIT_TOPIC: auditTopic.name,
        ALLOWED_PIPELINES: [
          'projects/my-proj/locations/us-central1/deliveryPipelines/*',
          'projects/shop-prod/locations/*/deliveryPipelines/checkout',
        ].join(','),
        MAX_RUNS_PER_EVENT: String(MAX_RUNS),
        GOOGLE_CLOUD_PROJECT: address.project,
      },
    });
    await pubsub.createPushSubscription(requests, server.pushEndpoint(requests.name), {
      minimumBackoffSeconds: 0,
      maximumBackoffSeconds: 1,
    });
  });

  afterAll(async () => {
    await server?.stop();
    await pubsub?.cleanup();
    await deploy?.stop();
  });

  /** Publishes a request and returns the audit events its message produced. */
  async function request(data: unknown, count: number, attributes?: Record<string, string>) {
    const messageId =
      typeof data === 'string' || Buffer.isBuffer(data)
        ? await pubsub.publishRaw(requests, data, attributes)
        : await pubsub.publishJson(requests, data, attributes);
    return { messageId, events: await auditsOf(messageId, count) };
  }

  async function auditsOf(messageId: string, count: number) {
    const received = await inbox.of(messageId, count);
    for (const message of received) {
      auditEventSchema.parse(message.data);
      expect(message.attributes.outcome).toBe((message.data as AuditEvent).outcome);
      expect(message.attributes.source).toBe((message.data as AuditEvent).request.source);
    }
    return received.map((message) => message.data as AuditEvent);
  }

  const byRun = (events: AuditEvent[]) =>
    Object.fromEntries(events.map((event) => [event.automationRun, event]));

  it('cancels IN_PROGRESS and PENDING runs and audits each, field by field', async () => {
    deploy.seedRun({
      name: run(WEB, 'running'),
      state: 'IN_PROGRESS',
      targetId: 'prod',
      automationId: 'promote-to-prod',
      ruleId: 'promote',
    });
    deploy.seedRun({ name: run(WEB, 'pending'), state: 'PENDING', targetId: 'prod' });
    const { messageId, events } = await request(
      {
        automationRuns: [run(WEB, 'running'), run(WEB, 'pending')],
        reason: 'bad canary',
        requestId: 'ticket-4711',
      },
      2,
    );
    expect(deploy.getRun(run(WEB, 'running'))?.state).toBe('CANCELLED');
    expect(deploy.getRun(run(WEB, 'pending'))?.state).toBe('CANCELLED');
    expect(deploy.cancelCount(run(WEB, 'running'))).toBe(1);
    const running = byRun(events)[run(WEB, 'running')];
    expect(running).toEqual({
      eventId: expect.stringMatching(/^[0-9a-f]{32}$/),
      time: expect.any(String),
      outcome: 'CANCELLED',
      automationRun: run(WEB, 'running'),
      pipeline: WEB,
      stateBefore: 'IN_PROGRESS',
      stateAfter: 'CANCELLED',
      targetId: 'prod',
      automationId: 'promote-to-prod',
      ruleId: 'promote',
      reason: 'bad canary',
      dryRun: false,
      request: {
        source: 'REQUEST',
        messageId,
        publishTime: expect.any(String),
        requestId: 'ticket-4711',
        incidentId: null,
        policyName: null,
      },
      error: null,
    });
    expect(byRun(events)[run(WEB, 'pending')]).toMatchObject({
      outcome: 'CANCELLED',
      stateBefore: 'PENDING',
    });
    const logged = server.logs.filter((line) => line.json?.eventId === running?.eventId);
    expect(logged).toHaveLength(1);
    expect(logged[0]?.json).toMatchObject({
      severity: 'NOTICE',
      outcome: 'CANCELLED',
      pipeline: WEB,
    });
  });

  it('leaves a terminal run alone and reports an unknown one', async () => {
    deploy.seedRun({ name: run(WEB, 'done'), state: 'SUCCEEDED' });
    const { events } = await request({ automationRuns: [run(WEB, 'done'), run(WEB, 'nobody')] }, 2);
    expect(byRun(events)[run(WEB, 'done')]).toMatchObject({
      outcome: 'NOT_CANCELLABLE',
      stateBefore: 'SUCCEEDED',
      stateAfter: 'SUCCEEDED',
    });
    expect(byRun(events)[run(WEB, 'nobody')]).toMatchObject({
      outcome: 'NOT_FOUND',
      error: { code: 'NOT_FOUND' },
    });
    expect(deploy.cancelCount(run(WEB, 'done'))).toBe(0);
  });

  it('denies a run outside ALLOWED_PIPELINES without calling Cloud Deploy', async () => {
    deploy.seedRun({ name: run(DENIED_PIPELINE, 'r1'), state: 'IN_PROGRESS' });
    const { events } = await request({ automationRun: run(DENIED_PIPELINE, 'r1') }, 1);
    expect(events[0]).toMatchObject({ outcome: 'DENIED', pipeline: DENIED_PIPELINE });
    expect(deploy.calls.filter((call) => call.name.startsWith(DENIED_PIPELINE))).toEqual([]);
    expect(deploy.getRun(run(DENIED_PIPELINE, 'r1'))?.state).toBe('IN_PROGRESS');
  });

  it.each([
    ['malformed JSON', '{"automationRun": ', 'not valid JSON'],
    [
      'a bad name',
      JSON.stringify({ automationRun: `${WEB}/automationRuns/../x` }),
      'automationRun',
    ],
    [
      'an oversize message',
      JSON.stringify({ automationRun: run(WEB, 'x'), reason: 'r'.repeat(70_000) }),
      'the limit is 65536',
    ],
    ['an unknown shape', JSON.stringify({ hello: 'world' }), 'not a cancel request'],
  ])('rejects %s, acks it, and is not redelivered', async (_, data, message) => {
    const { messageId, events } = await request(data, 1);
    expect(events[0]).toMatchObject({ outcome: 'REJECTED', automationRun: null });
    expect(events[0]?.error?.message).toContain(message);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await inbox.of(messageId, 2, 500)).toHaveLength(1);
  });

  it('rejects a pushed message with empty data', async () => {
    const { events } = await request(Buffer.alloc(0), 1, { origin: 'empty' });
    expect(events[0]).toMatchObject({
      outcome: 'REJECTED',
      error: { message: expect.stringContaining('no data') },
    });
  });

  it('cancels the labelled pipeline on an open incident and ignores the rest', async () => {
    deploy.seedRun({ name: run(CHECKOUT, 'prod-1'), state: 'IN_PROGRESS', targetId: 'prod' });
    deploy.seedRun({ name: run(CHECKOUT, 'prod-2'), state: 'PENDING', targetId: 'prod' });
    deploy.seedRun({ name: run(CHECKOUT, 'staging-1'), state: 'IN_PROGRESS', targetId: 'staging' });

    const test = await request(example('incident-console-test.json'), 1);
    expect(test.events[0]).toMatchObject({
      outcome: 'IGNORED',
      request: { source: 'ALERT', incidentId: '12345' },
    });
    const closed = await request(example('incident-closed.json'), 1);
    expect(closed.events[0]).toMatchObject({ outcome: 'IGNORED' });
    const unlabelled = await request(example('incident-log-match-no-labels.json'), 1);
    expect(unlabelled.events[0]).toMatchObject({
      outcome: 'REJECTED',
      error: { message: expect.stringContaining('clouddeploy_pipeline') },
    });
    expect(deploy.getRun(run(CHECKOUT, 'prod-1'))?.state).toBe('IN_PROGRESS');

    const open = await request(example('incident-open.json'), 2);
    expect(open.events.map((event) => [event.outcome, event.automationRun]).sort()).toEqual([
      ['CANCELLED', run(CHECKOUT, 'prod-1')],
      ['CANCELLED', run(CHECKOUT, 'prod-2')],
    ]);
    expect(open.events[0]?.request).toMatchObject({
      source: 'ALERT',
      incidentId: '0.nq3c7k2v1xab',
      policyName: 'checkout 5xx during rollout',
    });
    expect(open.events[0]?.reason).toContain('checkout 5xx during rollout');
    expect(deploy.getRun(run(CHECKOUT, 'staging-1'))?.state).toBe('IN_PROGRESS');
  });

  it('sweeps by age and state', async () => {
    const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3600_000);
    deploy.seedRun({ name: run(SWEPT, 'old-pending'), state: 'PENDING', createTime: hoursAgo(3) });
    deploy.seedRun({
      name: run(SWEPT, 'old-running'),
      state: 'IN_PROGRESS',
      createTime: hoursAgo(3),
    });
    deploy.seedRun({
      name: run(SWEPT, 'young-pending'),
      state: 'PENDING',
      createTime: hoursAgo(1),
    });
    const { events } = await request(
      { pipeline: SWEPT, olderThanSeconds: 7200, states: ['PENDING'], reason: 'nightly cleanup' },
      1,
    );
    expect(events[0]).toMatchObject({
      outcome: 'CANCELLED',
      automationRun: run(SWEPT, 'old-pending'),
      request: { source: 'SWEEP' },
    });
    expect(deploy.getRun(run(SWEPT, 'old-running'))?.state).toBe('IN_PROGRESS');
    expect(deploy.getRun(run(SWEPT, 'young-pending'))?.state).toBe('PENDING');
  });

  it('caps the runs one message may cancel', async () => {
    for (let index = 0; index < MAX_RUNS + 3; index += 1) {
      deploy.seedRun({
        name: run(CAPPED, `r${index}`),
        state: 'IN_PROGRESS',
        createTime: new Date(Date.now() - (100 - index) * 1000),
      });
    }
    const { events } = await request({ pipeline: CAPPED }, MAX_RUNS + 3);
    const outcomes = events.map((event) => event.outcome);
    expect(outcomes.filter((outcome) => outcome === 'CANCELLED')).toHaveLength(MAX_RUNS);
    expect(outcomes.filter((outcome) => outcome === 'LIMIT_EXCEEDED')).toHaveLength(3);
    expect(
      deploy
        .runs(CAPPED)
        .filter((entry) => entry.state === 'IN_PROGRESS')
        .map((entry) => entry.name)
        .sort(),
    ).toEqual([run(CAPPED, 'r5'), run(CAPPED, 'r6'), run(CAPPED, 'r7')]);
  });

  it('decides DRY_RUN and cancels nothing', async () => {
    deploy.seedRun({ name: run(WEB, 'dry'), state: 'IN_PROGRESS' });
    const { events } = await request({ automationRun: run(WEB, 'dry'), dryRun: true }, 1);
    expect(events[0]).toMatchObject({
      outcome: 'DRY_RUN',
      dryRun: true,
      stateAfter: 'IN_PROGRESS',
    });
    expect(deploy.getRun(run(WEB, 'dry'))?.state).toBe('IN_PROGRESS');
  });

  it('retries a transient cancel failure through redelivery to a single cancel', async () => {
    deploy.seedRun({ name: run(WEB, 'flaky'), state: 'IN_PROGRESS' });
    deploy.injectFault({
      method: 'CancelAutomationRun',
      code: 'UNAVAILABLE',
      runName: run(WEB, 'flaky'),
      times: 2,
    });
    const { messageId, events } = await request({ automationRun: run(WEB, 'flaky') }, 1);
    expect(events[0]).toMatchObject({ outcome: 'CANCELLED', request: { messageId } });
    expect(deploy.cancelCount(run(WEB, 'flaky'))).toBe(1);
    expect(
      deploy.calls.filter(
        (call) => call.method === 'CancelAutomationRun' && call.name === run(WEB, 'flaky'),
      ),
    ).toHaveLength(3);
    expect(
      server.logs.some(
        (line) =>
          line.json?.severity === 'WARNING' && String(line.json?.message).startsWith('retrying'),
      ),
    ).toBe(true);
  });

  it('settles a cancel that timed out after taking effect as CANCELLED, once', async () => {
    deploy.seedRun({ name: run(WEB, 'slow'), state: 'IN_PROGRESS' });
    deploy.injectFault({
      method: 'CancelAutomationRun',
      code: 'DEADLINE_EXCEEDED',
      runName: run(WEB, 'slow'),
      afterEffect: true,
    });
    const { events } = await request({ automationRun: run(WEB, 'slow') }, 1);
    expect(events[0]).toMatchObject({
      outcome: 'CANCELLED',
      stateBefore: 'IN_PROGRESS',
      stateAfter: 'CANCELLED',
    });
    expect(deploy.cancelCount(run(WEB, 'slow'))).toBe(1);
  });

  it('records the new state when the run finishes between the read and the cancel', async () => {
    const name = run(WEB, 'racing');
    deploy.seedRun({ name, state: 'IN_PROGRESS' });
    deploy.injectFault({ method: 'CancelAutomationRun', delayMs: 800, runName: name });
    const published = request({ automationRun: name }, 1);
    await expect
      .poll(
        () =>
          deploy.calls.some((call) => call.method === 'CancelAutomationRun' && call.name === name),
        { timeout: 10_000 },
      )
      .toBe(true);
    deploy.setState(name, 'SUCCEEDED');
    const { events } = await published;
    expect(events[0]).toMatchObject({
      outcome: 'NOT_CANCELLABLE',
      stateBefore: 'IN_PROGRESS',
      stateAfter: 'SUCCEEDED',
    });
    expect(deploy.cancelCount(name)).toBe(0);
  });

  it('cancels once when the same request is published twice', async () => {
    deploy.seedRun({ name: run(WEB, 'twice'), state: 'IN_PROGRESS' });
    const [first, second] = await Promise.all([
      request({ automationRun: run(WEB, 'twice') }, 1),
      request({ automationRun: run(WEB, 'twice') }, 1),
    ]);
    expect([first.events[0]?.outcome, second.events[0]?.outcome].sort()).toEqual([
      'CANCELLED',
      'NOT_CANCELLABLE',
    ]);
    expect(deploy.cancelCount(run(WEB, 'twice'))).toBe(1);
  });

  it('accepts an Eventarc binary-mode CloudEvent', async () => {
    deploy.seedRun({ name: run(WEB, 'eventarc'), state: 'PENDING' });
    const result = await postBinaryCloudEvent(server.url, {
      project: 'my-proj',
      topic: 'requests',
      id: 'eventarc-1',
      message: {
        data: JSON.stringify({ automationRun: run(WEB, 'eventarc') }),
        messageId: 'eventarc-1',
      },
    });
    expect(result.status).toBeLessThan(300);
    const [event] = await auditsOf('eventarc-1', 1);
    expect(event).toMatchObject({ outcome: 'CANCELLED', automationRun: run(WEB, 'eventarc') });
  });

  it('acks and audits an expired event without touching the run', async () => {
    deploy.seedRun({ name: run(WEB, 'stale'), state: 'IN_PROGRESS' });
    const old = new Date(Date.now() - 2 * 3600_000);
    const result = await postPubSubPush(server.url, {
      project: 'my-proj',
      topic: 'requests',
      message: {
        data: JSON.stringify({ automationRun: run(WEB, 'stale') }),
        messageId: 'stale-1',
        publishTime: old,
      },
    });
    expect(result.status).toBeLessThan(300);
    const [event] = await auditsOf('stale-1', 1);
    expect(event).toMatchObject({ outcome: 'EXPIRED', automationRun: null });
    expect(deploy.getRun(run(WEB, 'stale'))?.state).toBe('IN_PROGRESS');
  });

  it('answers 500 when the audit topic is gone, so Pub/Sub redelivers', async () => {
    const gone = await FunctionServer.start({
      pubsubEmulatorHost: requirePubSubEmulator().host,
      cloudDeployEmulatorHost: deploy.host,
      env: {
        AUDIT_TOPIC: pubsub.topicPath('no-such-audit-topic'),
        ALLOWED_PIPELINES: `${WEB}`,
      },
    });
    try {
      deploy.seedRun({ name: run(WEB, 'unaudited'), state: 'IN_PROGRESS' });
      const result = await postPubSubPush(gone.url, {
        project: 'my-proj',
        topic: 'requests',
        message: {
          data: JSON.stringify({ automationRun: run(WEB, 'unaudited') }),
          messageId: 'unaudited-1',
        },
      });
      expect(result.status).toBe(500);
    } finally {
      await gone.stop();
    }
  });
});

it('stops at start with one line naming a bad variable', async () => {
  const server = await FunctionServer.spawn({
    env: { AUDIT_TOPIC: 'not-a-topic', ALLOWED_PIPELINES: WEB },
  });
  const exit = await server.exited;
  expect(exit.code).toBe(1);
  const lines = exit.stderr.trim().split('\n');
  expect(lines).toEqual([
    'Invalid configuration: AUDIT_TOPIC must be a topic name: projects/PROJECT/topics/TOPIC',
  ]);
});
