import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditEventSchema } from '../src/audit-event';
import type { AutomationRun } from '../src/automation-run';
import type { Config } from '../src/config';
import { RetryableError } from '../src/errors/retryable-error';
import { createCancelHandler, timeBudgetMs } from '../src/handler';
import { PipelinePattern } from '../src/resource-names';
import {
  buildConfig,
  buildEvent,
  buildRun,
  FakeDeploy,
  FixedClock,
  PIPELINE,
  RecordingAudit,
  RecordingLogger,
  runName,
} from './support/fakes';

const example = (file: string) =>
  JSON.parse(readFileSync(join(__dirname, 'fixtures', 'monitoring', file), 'utf8')) as unknown;

function setup(
  options: { runs?: AutomationRun[]; config?: Partial<Config>; timeBudgetMs?: number } = {},
) {
  const deploy = new FakeDeploy(options.runs ?? []);
  const audit = new RecordingAudit();
  const logger = new RecordingLogger();
  const clock = new FixedClock();
  const handler = createCancelHandler({
    config: buildConfig(options.config),
    deploy,
    audit,
    clock,
    logger,
    ...(options.timeBudgetMs === undefined ? {} : { timeBudgetMs: options.timeBudgetMs }),
  });
  const invoke = (event: unknown) => handler(event as Parameters<typeof handler>[0]);
  return { deploy, audit, logger, clock, handler, invoke };
}

const outcomes = (events: { outcome: string }[]) => events.map((event) => event.outcome);

describe('named runs', () => {
  it('cancels the run and audits the decision field by field', async () => {
    const { deploy, audit, invoke } = setup({ runs: [buildRun()] });
    await invoke(
      buildEvent({
        automationRun: runName('run-1'),
        reason: 'bad canary',
        requestId: 'ticket-4711',
      }),
    );
    expect(deploy.cancels.get(runName('run-1'))).toBe(1);
    expect(audit.events).toHaveLength(1);
    const [event] = audit.events;
    expect(auditEventSchema.parse(event)).toEqual({
      eventId: expect.stringMatching(/^[0-9a-f]{32}$/),
      time: '2026-12-04T10:00:00.000Z',
      outcome: 'CANCELLED',
      automationRun: runName('run-1'),
      pipeline: PIPELINE,
      stateBefore: 'IN_PROGRESS',
      stateAfter: 'CANCELLED',
      targetId: 'prod',
      automationId: 'promote-to-prod',
      ruleId: 'promote',
      reason: 'bad canary',
      dryRun: false,
      request: {
        source: 'REQUEST',
        messageId: 'message-1',
        publishTime: '2026-12-04T09:59:59.000Z',
        requestId: 'ticket-4711',
        incidentId: null,
        policyName: null,
      },
      error: null,
    });
  });

  it('logs one line per decision, the same as the audit', async () => {
    const { audit, logger, invoke } = setup({ runs: [buildRun()] });
    await invoke(buildEvent({ automationRuns: [runName('run-1'), runName('missing')] }));
    expect(logger.decisions).toEqual(audit.events);
    expect(outcomes(audit.events).sort()).toEqual(['CANCELLED', 'NOT_FOUND']);
  });

  it('keeps eventId stable for a redelivered message and distinct per run', async () => {
    const { audit, invoke } = setup({ runs: [buildRun(), buildRun({ name: runName('run-2') })] });
    const event = buildEvent({ automationRuns: [runName('run-1'), runName('run-2')] });
    await invoke(event);
    await invoke(event);
    const [first, second, third, fourth] = audit.events.map((entry) => entry.eventId);
    expect(new Set([first, second]).size).toBe(2);
    expect(new Set([first, second])).toEqual(new Set([third, fourth]));
    expect(outcomes(audit.events.slice(2))).toEqual(['NOT_CANCELLABLE', 'NOT_CANCELLABLE']);
  });

  it('denies a run outside ALLOWED_PIPELINES without any API call', async () => {
    const other =
      'projects/other-proj/locations/us-central1/deliveryPipelines/web/automationRuns/r1';
    const { deploy, audit, invoke } = setup();
    await invoke(buildEvent({ automationRun: other }));
    expect(deploy.calls).toEqual([]);
    expect(audit.events[0]).toMatchObject({
      outcome: 'DENIED',
      automationRun: other,
      pipeline: 'projects/other-proj/locations/us-central1/deliveryPipelines/web',
      error: { code: 'DENIED' },
    });
  });

  it('caps the runs of one message and audits the rest LIMIT_EXCEEDED without calls', async () => {
    const runs = ['a', 'b', 'c', 'd'].map((id) => buildRun({ name: runName(id) }));
    const { deploy, audit, invoke } = setup({ runs, config: { maxRunsPerEvent: 2 } });
    await invoke(buildEvent({ automationRuns: runs.map((run) => run.name) }));
    expect([...deploy.cancels.keys()].sort()).toEqual([runName('a'), runName('b')]);
    expect(
      audit.events
        .filter((event) => event.outcome === 'LIMIT_EXCEEDED')
        .map((event) => event.automationRun),
    ).toEqual([runName('c'), runName('d')]);
    expect(deploy.calls.filter((call) => call.name === runName('c'))).toEqual([]);
  });

  it.each([
    ['DRY_RUN config', { dryRun: true }, {}],
    ['dryRun in the message', {}, { dryRun: true }],
  ])('decides DRY_RUN with %s', async (_, config, message) => {
    const { deploy, audit, invoke } = setup({ runs: [buildRun()], config });
    await invoke(buildEvent({ automationRun: runName('run-1'), ...message }));
    expect(deploy.callCount('cancelRun')).toBe(0);
    expect(audit.events[0]).toMatchObject({
      outcome: 'DRY_RUN',
      dryRun: true,
      stateAfter: 'IN_PROGRESS',
    });
  });

  it('a message cannot switch off DRY_RUN set by configuration', async () => {
    const { deploy, invoke } = setup({ runs: [buildRun()], config: { dryRun: true } });
    await invoke(buildEvent({ automationRun: runName('run-1'), dryRun: false }));
    expect(deploy.callCount('cancelRun')).toBe(0);
  });
});

describe('messages that name no run', () => {
  it.each([
    [
      'malformed JSON',
      buildEvent(null, { raw: Buffer.from('{nope').toString('base64') }),
      'not valid JSON',
    ],
    ['a bad name', buildEvent({ automationRun: 'projects/x/../y' }), 'automationRun'],
    ['no data', buildEvent(null, { raw: null }), 'no data'],
    [
      'an oversize message',
      buildEvent({ automationRun: runName('run-1'), reason: 'x'.repeat(70_000) }),
      'limit is 65536',
    ],
    [
      'an event without a message',
      { id: 'e', type: 't', data: { something: 1 } },
      'no Pub/Sub message',
    ],
    ['an empty object', {}, 'no Pub/Sub message'],
  ])('rejects %s and acks', async (_, event, message) => {
    const { deploy, audit, invoke } = setup();
    await expect(invoke(event)).resolves.toBeUndefined();
    expect(deploy.calls).toEqual([]);
    expect(audit.events).toHaveLength(1);
    expect(audit.events[0]).toMatchObject({
      outcome: 'REJECTED',
      automationRun: null,
      error: { code: 'REJECTED' },
    });
    expect(audit.events[0]?.error?.message).toContain(message);
  });

  it('rejects a raw push body with empty data that the framework passed through unconverted', async () => {
    const { audit, invoke } = setup();
    await invoke({
      message: {
        attributes: { a: 'b' },
        messageId: 'm-empty',
        publishTime: '2026-12-04T09:59:00Z',
      },
      subscription: 'projects/shop-prod/subscriptions/requests-push',
    });
    expect(audit.events[0]).toMatchObject({
      outcome: 'REJECTED',
      request: { messageId: 'm-empty', publishTime: '2026-12-04T09:59:00.000Z' },
    });
  });

  it('echoes requestId and reason of a rejected request', async () => {
    const { audit, invoke } = setup();
    await invoke(buildEvent({ automationRun: 'bad', requestId: 'ticket-9', reason: 'why' }));
    expect(audit.events[0]).toMatchObject({
      reason: 'why',
      request: { requestId: 'ticket-9', source: 'REQUEST' },
    });
  });

  it('expires a message older than MAX_EVENT_AGE_SECONDS, measured from the CloudEvent time', async () => {
    const { deploy, audit, invoke } = setup({
      runs: [buildRun()],
      config: { maxEventAgeSeconds: 60 },
    });
    await invoke(buildEvent({ automationRun: runName('run-1') }, { time: '2026-12-04T09:58:59Z' }));
    expect(deploy.calls).toEqual([]);
    expect(audit.events[0]).toMatchObject({ outcome: 'EXPIRED', automationRun: null });
  });

  it('falls back to the publish time when the event has no time', async () => {
    const { audit, invoke } = setup({ runs: [buildRun()], config: { maxEventAgeSeconds: 60 } });
    const event = buildEvent(
      { automationRun: runName('run-1') },
      { publishTime: '2026-12-04T09:00:00Z' },
    );
    await invoke({ ...event, time: undefined });
    expect(outcomes(audit.events)).toEqual(['EXPIRED']);
  });

  it('processes a message exactly at the age limit', async () => {
    const { audit, invoke } = setup({ runs: [buildRun()], config: { maxEventAgeSeconds: 60 } });
    await invoke(buildEvent({ automationRun: runName('run-1') }, { time: '2026-12-04T09:59:00Z' }));
    expect(outcomes(audit.events)).toEqual(['CANCELLED']);
  });
});

describe('alerts', () => {
  const runs = [
    buildRun({ name: runName('prod-1'), targetId: 'prod' }),
    buildRun({ name: runName('prod-2'), targetId: 'prod', state: 'PENDING' }),
    buildRun({ name: runName('staging-1'), targetId: 'staging' }),
    buildRun({ name: runName('done'), targetId: 'prod', state: 'SUCCEEDED' }),
  ];

  it('cancels the in-flight runs of the labelled pipeline and target', async () => {
    const { deploy, audit, invoke } = setup({ runs });
    await invoke(buildEvent(example('incident-open.json')));
    expect([...deploy.cancels.keys()].sort()).toEqual([runName('prod-1'), runName('prod-2')]);
    expect(audit.events.map((event) => [event.outcome, event.automationRun])).toEqual(
      expect.arrayContaining([
        ['CANCELLED', runName('prod-1')],
        ['CANCELLED', runName('prod-2')],
      ]),
    );
    expect(audit.events[0]?.request).toMatchObject({
      source: 'ALERT',
      incidentId: '0.nq3c7k2v1xab',
      policyName: 'checkout 5xx during rollout',
    });
    expect(audit.events[0]?.reason).toContain('checkout 5xx during rollout');
    expect(deploy.calls.find((call) => call.method === 'listRuns')?.filter).toContain(
      'target_id = "prod"',
    );
  });

  it.each([
    ['incident-closed.json', 'IGNORED'],
    ['incident-console-test.json', 'IGNORED'],
    ['incident-log-match-no-labels.json', 'REJECTED'],
  ])('%s is %s and touches nothing', async (file, outcome) => {
    const { deploy, audit, invoke } = setup({ runs });
    await invoke(buildEvent(example(file)));
    expect(deploy.calls).toEqual([]);
    expect(outcomes(audit.events)).toEqual([outcome]);
    expect(audit.events[0]?.request.source).toBe('ALERT');
  });

  it('denies an alert for a pipeline outside ALLOWED_PIPELINES with one audit and no call', async () => {
    const { deploy, audit, invoke } = setup({
      runs,
      config: {
        allowedPipelines: [
          PipelinePattern.parse(
            'projects/shop-prod/locations/*/deliveryPipelines/web',
          ) as PipelinePattern,
        ],
      },
    });
    await invoke(buildEvent(example('incident-open.json')));
    expect(deploy.calls).toEqual([]);
    expect(audit.events).toEqual([
      expect.objectContaining({ outcome: 'DENIED', pipeline: PIPELINE, automationRun: null }),
    ]);
  });

  it('lists without the filter when the API refuses it, and still selects locally', async () => {
    const { deploy, audit, invoke } = setup({ runs });
    deploy.fail('listRuns', 'INVALID_ARGUMENT');
    await invoke(buildEvent(example('incident-open.json')));
    const filters = deploy.calls
      .filter((call) => call.method === 'listRuns')
      .map((call) => call.filter);
    expect(filters).toHaveLength(2);
    expect(filters[1]).toBe('');
    expect([...deploy.cancels.keys()].sort()).toEqual([runName('prod-1'), runName('prod-2')]);
    expect(outcomes(audit.events)).toEqual(['CANCELLED', 'CANCELLED']);
  });

  it('audits FAILED when the API refuses even the unfiltered list', async () => {
    const { deploy, audit, invoke } = setup({ runs });
    deploy.fail('listRuns', 'INVALID_ARGUMENT', { times: 2 });
    await invoke(buildEvent(example('incident-open.json')));
    expect(audit.events).toEqual([
      expect.objectContaining({
        outcome: 'FAILED',
        pipeline: PIPELINE,
        error: expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      }),
    ]);
    expect(deploy.callCount('cancelRun')).toBe(0);
  });

  it('audits a pipeline that cannot be listed', async () => {
    const { deploy, audit, invoke } = setup({ runs });
    deploy.fail('listRuns', 'NOT_FOUND');
    await invoke(buildEvent(example('incident-open.json')));
    expect(audit.events).toEqual([
      expect.objectContaining({ outcome: 'NOT_FOUND', pipeline: PIPELINE }),
    ]);
  });

  it('retries when listing fails transiently, deciding nothing', async () => {
    const { deploy, audit, invoke } = setup({ runs });
    deploy.fail('listRuns', 'UNAVAILABLE');
    await expect(invoke(buildEvent(example('incident-open.json')))).rejects.toBeInstanceOf(
      RetryableError,
    );
    expect(audit.events).toEqual([]);
    expect(deploy.callCount('cancelRun')).toBe(0);
  });

  it('audits an open incident whose runs were cancelled before it was published as IGNORED', async () => {
    const { audit, invoke } = setup({
      runs: [
        buildRun({
          name: runName('gone'),
          state: 'CANCELLED',
          updateTime: new Date('2026-12-04T09:00:00Z'),
        }),
      ],
    });
    await invoke(buildEvent(example('incident-open.json')));
    expect(audit.events).toEqual([
      expect.objectContaining({ outcome: 'IGNORED', pipeline: PIPELINE, automationRun: null }),
    ]);
  });
});

describe('sweeps', () => {
  const hour = 3600 * 1000;
  const at = (hoursBefore: number) =>
    new Date(new Date('2026-12-04T09:59:59Z').getTime() - hoursBefore * hour);
  const runs = [
    buildRun({ name: runName('old-pending'), state: 'PENDING', createTime: at(3) }),
    buildRun({ name: runName('old-running'), state: 'IN_PROGRESS', createTime: at(5) }),
    buildRun({ name: runName('young-pending'), state: 'PENDING', createTime: at(1) }),
    buildRun({ name: runName('old-done'), state: 'SUCCEEDED', createTime: at(6) }),
  ];

  it('selects by age and state', async () => {
    const { deploy, audit, invoke } = setup({ runs });
    await invoke(
      buildEvent({
        pipeline: PIPELINE,
        olderThanSeconds: 7200,
        states: ['PENDING'],
        reason: 'nightly cleanup',
      }),
    );
    expect([...deploy.cancels.keys()]).toEqual([runName('old-pending')]);
    expect(audit.events).toEqual([
      expect.objectContaining({
        outcome: 'CANCELLED',
        automationRun: runName('old-pending'),
        reason: 'nightly cleanup',
      }),
    ]);
    expect(audit.events[0]?.request.source).toBe('SWEEP');
    const filter = deploy.calls.find((call) => call.method === 'listRuns')?.filter;
    expect(filter).toContain('create_time <= "2026-12-04T07:59:59.000Z"');
  });

  it('caps oldest first, and a redelivery after a partial attempt never widens the cap', async () => {
    const many = Array.from({ length: 6 }, (_, index) =>
      buildRun({ name: runName(`r${index}`), createTime: at(10 - index) }),
    );
    const { deploy, audit, invoke } = setup({
      runs: many,
      config: { maxRunsPerEvent: 3, runConcurrency: 1 },
    });
    deploy.fail('cancelRun', 'UNAVAILABLE', { runName: runName('r2') });
    const event = buildEvent({ pipeline: PIPELINE });
    await expect(invoke(event)).rejects.toBeInstanceOf(RetryableError);
    expect([...deploy.cancels.keys()]).toEqual([runName('r0'), runName('r1')]);
    expect(outcomes(audit.events).sort()).toEqual([
      'CANCELLED',
      'CANCELLED',
      'LIMIT_EXCEEDED',
      'LIMIT_EXCEEDED',
      'LIMIT_EXCEEDED',
    ]);

    await invoke(event);
    expect([...deploy.cancels.keys()].sort()).toEqual([
      runName('r0'),
      runName('r1'),
      runName('r2'),
    ]);
    const second = audit.events.slice(5);
    expect(
      second
        .filter((entry) => entry.outcome === 'LIMIT_EXCEEDED')
        .map((entry) => entry.automationRun),
    ).toEqual([runName('r3'), runName('r4'), runName('r5')]);
  });

  it('audits decisions made before a transient failure and then retries', async () => {
    const { deploy, audit, logger, invoke } = setup({ runs });
    deploy.fail('getRun', 'DEADLINE_EXCEEDED', { runName: runName('old-running') });
    await expect(invoke(buildEvent({ pipeline: PIPELINE }))).rejects.toThrow(/DEADLINE_EXCEEDED/);
    expect(outcomes(audit.events)).toEqual(['CANCELLED', 'CANCELLED']);
    expect(logger.retries).toHaveLength(1);
  });

  it('stops starting runs when the time budget is used up and leaves the rest to redelivery', async () => {
    const { deploy, clock, audit, invoke } = setup({
      runs,
      config: { runConcurrency: 1 },
      timeBudgetMs: 1000,
    });
    deploy.beforeCancel = () => {
      clock.current = new Date(clock.current.getTime() + 2000);
    };
    await expect(invoke(buildEvent({ pipeline: PIPELINE }))).rejects.toThrow(/time budget/);
    expect(deploy.callCount('cancelRun')).toBe(1);
    expect(outcomes(audit.events)).toEqual(['CANCELLED']);
  });

  it('audits a pipeline where nothing matches as IGNORED, so every message ends audited', async () => {
    const { deploy, audit, invoke } = setup({ runs });
    await invoke(buildEvent({ pipeline: PIPELINE, targetId: 'canary' }));
    expect(deploy.callCount('cancelRun')).toBe(0);
    expect(audit.events).toEqual([
      expect.objectContaining({
        outcome: 'IGNORED',
        pipeline: PIPELINE,
        automationRun: null,
        error: {
          code: 'IGNORED',
          message: 'no run matched the selection: state PENDING or IN_PROGRESS, target canary',
        },
      }),
    ]);
  });

  it('denies pipelines outside the allowlist and sweeps the others', async () => {
    const other = 'projects/other-proj/locations/us-central1/deliveryPipelines/web';
    const { audit, invoke } = setup({ runs });
    await invoke(buildEvent({ pipelines: [other, PIPELINE], states: ['IN_PROGRESS'] }));
    expect(audit.events.map((event) => [event.outcome, event.pipeline])).toEqual([
      ['DENIED', other],
      ['CANCELLED', PIPELINE],
    ]);
  });
});

describe('audit publishing', () => {
  it('retries the message when an audit cannot be published, and the retry sends the original decision', async () => {
    const { deploy, audit, clock, logger, invoke } = setup({ runs: [buildRun()] });
    audit.failures = 1;
    const event = buildEvent({ automationRun: runName('run-1') });
    await expect(invoke(event)).rejects.toThrow(/audit event not published/);
    expect(deploy.cancels.get(runName('run-1'))).toBe(1);
    clock.current = new Date('2026-12-04T10:00:05Z');
    await invoke(event);
    expect(audit.events).toEqual([
      expect.objectContaining({
        outcome: 'CANCELLED',
        stateBefore: 'IN_PROGRESS',
        stateAfter: 'CANCELLED',
        time: '2026-12-04T10:00:00.000Z',
      }),
    ]);
    expect(logger.decisions.map((entry) => entry.outcome)).toEqual(['CANCELLED']);
    expect(deploy.cancels.get(runName('run-1'))).toBe(1);
  });

  it('a redelivery to an instance without the original decision audits what it reads', async () => {
    const first = setup({ runs: [buildRun()] });
    first.audit.failures = 1;
    const event = buildEvent({ automationRun: runName('run-1') });
    await expect(first.invoke(event)).rejects.toBeInstanceOf(RetryableError);
    const other = setup({ runs: [...first.deploy.runs.values()] });
    await other.invoke(event);
    expect(other.audit.events).toEqual([
      expect.objectContaining({ outcome: 'NOT_CANCELLABLE', stateBefore: 'CANCELLED' }),
    ]);
  });

  it('keeps a decision that fails to publish again for the next delivery', async () => {
    const { audit, invoke } = setup({ runs: [buildRun()] });
    audit.failures = 2;
    const event = buildEvent({ automationRun: runName('run-1') });
    await expect(invoke(event)).rejects.toBeInstanceOf(RetryableError);
    await expect(invoke(event)).rejects.toBeInstanceOf(RetryableError);
    await invoke(event);
    expect(audit.events.map((entry) => entry.outcome)).toEqual(['CANCELLED']);
  });

  it('retries when the audit of a rejection cannot be published', async () => {
    const { audit, invoke } = setup();
    audit.failures = 1;
    await expect(invoke(buildEvent({ nonsense: true }))).rejects.toBeInstanceOf(RetryableError);
  });
});

describe('timeBudgetMs', () => {
  it.each([
    [60, 10_000],
    [120, 70_000],
    [540, 490_000],
    [10, 1_666],
  ])('leaves room for the slowest run inside a %i s timeout', (seconds, budget) => {
    expect(timeBudgetMs(seconds)).toBe(budget);
  });
});
