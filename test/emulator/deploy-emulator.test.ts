import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { v1 } from '@google-cloud/deploy';
import * as grpc from '@grpc/grpc-js';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunState } from '../../src/automation-run';
import { CloudDeployEmulator, type SeedRun } from '../../src/emulator/deploy-emulator';
import { type ControlServer, startControlServer } from '../../src/emulator/deploy-emulator-main';

const PIPELINE = 'projects/my-proj/locations/us-central1/deliveryPipelines/web';
const OTHER_PIPELINE = 'projects/my-proj/locations/us-central1/deliveryPipelines/api';
const START = new Date('2026-12-04T08:00:00.000Z');
/** One attempt, no retry: these tests look at what the server answers. */
const ONCE = { retry: null, timeout: 5_000 };

const runName = (id: string, pipeline = PIPELINE) => `${pipeline}/automationRuns/${id}`;

function buildSeed(overrides: Partial<SeedRun> & { id?: string } = {}): SeedRun {
  const { id = 'run-1', ...rest } = overrides;
  return {
    name: runName(id),
    createTime: START,
    targetId: 'prod',
    automationId: 'promote-to-prod',
    ruleId: 'promote',
    ...rest,
  };
}

function deployClient(host: string) {
  const separator = host.lastIndexOf(':');
  return new v1.CloudDeployClient({
    apiEndpoint: host.slice(0, separator),
    port: Number(host.slice(separator + 1)),
    sslCreds: grpc.credentials.createInsecure(),
    universeDomain: 'googleapis.com',
  });
}

type DeployClient = ReturnType<typeof deployClient>;

let clock = START;
let emulator: CloudDeployEmulator;
let client: DeployClient;

beforeAll(async () => {
  emulator = await CloudDeployEmulator.start({ now: () => clock });
  client = deployClient(emulator.host);
});

afterEach(() => {
  emulator.reset();
  clock = START;
});

afterAll(async () => {
  await client.close();
  await emulator.stop();
});

async function listAll(request: { filter?: string; orderBy?: string; parent?: string }) {
  const [runs] = await client.listAutomationRuns(
    { parent: PIPELINE, pageSize: 1000, ...request },
    { ...ONCE, autoPaginate: false },
  );
  return runs.map((run) => run.name?.split('/').at(-1));
}

describe('start', () => {
  it('listens on a free port of 127.0.0.1 when asked for port 0', () => {
    expect(emulator.host).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(emulator.port).toBeGreaterThan(0);
    expect(emulator.host).toBe(`127.0.0.1:${emulator.port}`);
  });
});

describe('GetAutomationRun', () => {
  it('returns the stored run with proto Timestamps and the state name', async () => {
    const seeded = emulator.seedRun(
      buildSeed({
        state: 'IN_PROGRESS',
        createTime: new Date('2026-12-04T07:59:58.123Z'),
        updateTime: new Date('2026-12-04T08:00:00.456Z'),
        stateDescription: 'promoting',
        serviceAccount: 'deployer@my-proj.iam.gserviceaccount.com',
        waitUntilTime: new Date('2026-12-04T09:00:00Z'),
      }),
    );
    const [run] = await client.getAutomationRun({ name: seeded.name }, ONCE);
    expect(run).toMatchObject({
      name: seeded.name,
      state: 'IN_PROGRESS',
      stateDescription: 'promoting',
      targetId: 'prod',
      automationId: 'promote-to-prod',
      ruleId: 'promote',
      serviceAccount: 'deployer@my-proj.iam.gserviceaccount.com',
      etag: seeded.etag,
      createTime: {
        seconds: String(Date.parse('2026-12-04T07:59:58Z') / 1000),
        nanos: 123_000_000,
      },
      updateTime: {
        seconds: String(Date.parse('2026-12-04T08:00:00Z') / 1000),
        nanos: 456_000_000,
      },
      expireTime: { seconds: String(Date.parse('2026-12-18T07:59:58Z') / 1000) },
      waitUntilTime: { seconds: String(Date.parse('2026-12-04T09:00:00Z') / 1000), nanos: 0 },
    });
    expect(seeded.etag).not.toBe('');
  });

  it('answers NOT_FOUND naming the run', async () => {
    const name = runName('missing');
    await expect(client.getAutomationRun({ name }, ONCE)).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
      details: `Resource '${name}' was not found`,
    });
  });

  it.each([
    '',
    'projects/my-proj',
    `${PIPELINE}/automationRuns/`,
    `${PIPELINE}/automationRuns/a/b`,
    `${PIPELINE}//automationRuns/a`,
    `${PIPELINE}/automationRuns/..`,
    'projects/*/locations/us-central1/deliveryPipelines/web/automationRuns/a',
    `${PIPELINE}/rollouts/a`,
  ])('answers INVALID_ARGUMENT for the name %j', async (name) => {
    await expect(client.getAutomationRun({ name }, ONCE)).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringContaining('Invalid AutomationRun name'),
    });
    await expect(client.cancelAutomationRun({ name }, ONCE)).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
    });
  });
});

describe('CancelAutomationRun', () => {
  it.each<RunState>(['PENDING', 'IN_PROGRESS'])('cancels a %s run', async (state) => {
    const seeded = emulator.seedRun(buildSeed({ state }));
    clock = new Date('2026-12-04T08:05:00Z');
    const [response] = await client.cancelAutomationRun({ name: seeded.name }, ONCE);
    expect(response).toEqual({});
    const stored = emulator.getRun(seeded.name);
    expect(stored).toMatchObject({
      state: 'CANCELLED',
      updateTime: clock,
      createTime: START,
      stateDescription: expect.stringContaining('cancelled'),
    });
    expect(stored?.etag).not.toBe(seeded.etag);
    expect(emulator.cancelCount(seeded.name)).toBe(1);
  });

  it.each<RunState>(['SUCCEEDED', 'FAILED', 'CANCELLED', 'ABORTED', 'STATE_UNSPECIFIED'])(
    'refuses a %s run with FAILED_PRECONDITION and leaves it alone',
    async (state) => {
      const seeded = emulator.seedRun(buildSeed({ state }));
      await expect(client.cancelAutomationRun({ name: seeded.name }, ONCE)).rejects.toMatchObject({
        code: grpc.status.FAILED_PRECONDITION,
        details: expect.stringContaining(state),
      });
      expect(emulator.getRun(seeded.name)).toEqual(seeded);
      expect(emulator.cancelCount(seeded.name)).toBe(0);
    },
  );

  it('answers NOT_FOUND for an unknown run', async () => {
    await expect(
      client.cancelAutomationRun({ name: runName('missing') }, ONCE),
    ).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  it('lets exactly one of many concurrent cancels win', async () => {
    const seeded = emulator.seedRun(buildSeed());
    // Latency keeps every call in flight at once, so they really race.
    emulator.setLatency(50);
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => client.cancelAutomationRun({ name: seeded.name }, ONCE)),
    );
    const won = results.filter((result) => result.status === 'fulfilled');
    const lost = results.filter((result) => result.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(19);
    for (const result of lost) {
      expect(result.reason).toMatchObject({ code: grpc.status.FAILED_PRECONDITION });
    }
    expect(emulator.cancelCount(seeded.name)).toBe(1);
    expect(emulator.getRun(seeded.name)?.state).toBe('CANCELLED');
  });
});

describe('ListAutomationRuns paging', () => {
  const TOTAL = 2_500;

  function seedMany(): void {
    emulator.seedRuns(
      Array.from({ length: TOTAL }, (_, index) =>
        buildSeed({
          id: `run-${String(index).padStart(4, '0')}`,
          // Pairs share a create time, so the name breaks ties.
          createTime: new Date(START.getTime() + Math.floor(index / 2) * 1000),
        }),
      ),
    );
  }

  it('serves every run exactly once over pages of at most 1000, in create time then name order', async () => {
    seedMany();
    emulator.seedRun(buildSeed({ id: 'elsewhere', name: runName('elsewhere', OTHER_PIPELINE) }));
    const names: string[] = [];
    const sizes: number[] = [];
    let pageToken = '';
    do {
      const [page, , response] = await client.listAutomationRuns(
        { parent: PIPELINE, pageSize: 1000, pageToken },
        { ...ONCE, autoPaginate: false },
      );
      sizes.push(page.length);
      names.push(...page.map((run) => run.name ?? ''));
      pageToken = response?.nextPageToken ?? '';
    } while (pageToken !== '');
    expect(sizes).toEqual([1000, 1000, 500]);
    expect(new Set(names).size).toBe(TOTAL);
    expect(names).toEqual(emulator.runs(PIPELINE).map((run) => run.name));
    expect(names[0]).toBe(runName('run-0000'));
    expect(names.at(-1)).toBe(runName('run-2499'));
  });

  it('defaults to 50 a page and caps the page size at 1000', async () => {
    seedMany();
    const [defaultPage] = await client.listAutomationRuns(
      { parent: PIPELINE },
      { ...ONCE, autoPaginate: false },
    );
    expect(defaultPage).toHaveLength(50);
    const [cappedPage] = await client.listAutomationRuns(
      { parent: PIPELINE, pageSize: 5000 },
      { ...ONCE, autoPaginate: false },
    );
    expect(cappedPage).toHaveLength(1000);
  });

  it('keeps paging stable when runs are added between pages', async () => {
    emulator.seedRuns(
      ['b', 'd', 'f'].map((id, index) =>
        buildSeed({ id, createTime: new Date(START.getTime() + index) }),
      ),
    );
    const [first, next] = await client.listAutomationRuns(
      { parent: PIPELINE, pageSize: 2, orderBy: 'name' },
      { ...ONCE, autoPaginate: false },
    );
    emulator.seedRun(buildSeed({ id: 'a' }));
    const [second] = await client.listAutomationRuns(next ?? {}, { ...ONCE, autoPaginate: false });
    expect([...first, ...second].map((run) => run.name?.split('/').at(-1))).toEqual([
      'b',
      'd',
      'f',
    ]);
  });

  it.each([
    ['not base64 json', 'not a token!'],
    ['a token of another request', 'other-filter'],
    ['a well-formed token of the wrong shape', Buffer.from('{"x":1}').toString('base64url')],
  ])('answers INVALID_ARGUMENT for %s', async (_label, token) => {
    seedMany();
    let pageToken = token;
    if (token === 'other-filter') {
      const [, , response] = await client.listAutomationRuns(
        { parent: PIPELINE, pageSize: 10 },
        { ...ONCE, autoPaginate: false },
      );
      pageToken = response?.nextPageToken ?? '';
      expect(pageToken).not.toBe('');
    }
    await expect(
      client.listAutomationRuns(
        { parent: PIPELINE, pageSize: 10, pageToken, filter: 'state = "PENDING"' },
        { ...ONCE, autoPaginate: false },
      ),
    ).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringContaining('page token'),
    });
  });

  it('answers INVALID_ARGUMENT for a negative page size', async () => {
    await expect(
      client.listAutomationRuns(
        { parent: PIPELINE, pageSize: -1 },
        { ...ONCE, autoPaginate: false },
      ),
    ).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  });

  it.each([
    '',
    'projects/my-proj',
    `${PIPELINE}/automationRuns/run-1`,
    'projects/my-proj/locations/us-central1/deliveryPipelines/-',
  ])('answers INVALID_ARGUMENT for the parent %j', async (parent) => {
    await expect(
      client.listAutomationRuns({ parent }, { ...ONCE, autoPaginate: false }),
    ).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringContaining('Invalid parent'),
    });
  });
});

describe('ListAutomationRuns order_by', () => {
  beforeEach(() => {
    emulator.seedRuns(
      buildSeed({ id: 'c', createTime: new Date('2026-12-04T08:00:00Z') }),
      buildSeed({ id: 'a', createTime: new Date('2026-12-04T08:00:02Z') }),
      buildSeed({ id: 'b', createTime: new Date('2026-12-04T08:00:01Z') }),
      buildSeed({ id: 'd', createTime: new Date('2026-12-04T08:00:01Z') }),
    );
  });

  it.each([
    ['', ['c', 'b', 'd', 'a']],
    ['create_time', ['c', 'b', 'd', 'a']],
    ['create_time desc', ['a', 'b', 'd', 'c']],
    ['createTime desc, name desc', ['a', 'd', 'b', 'c']],
    ['name', ['a', 'b', 'c', 'd']],
    ['name desc', ['d', 'c', 'b', 'a']],
  ])('orders by %j', async (orderBy, expected) => {
    expect(await listAll({ orderBy })).toEqual(expected);
  });

  it.each(['state', 'name sideways', 'create_time desc extra'])(
    'answers INVALID_ARGUMENT for %j',
    async (orderBy) => {
      await expect(listAll({ orderBy })).rejects.toMatchObject({
        code: grpc.status.INVALID_ARGUMENT,
        details: expect.stringContaining('order_by'),
      });
    },
  );
});

describe('ListAutomationRuns filter', () => {
  beforeEach(() => {
    emulator.seedRuns(
      buildSeed({
        id: 'pending-prod',
        state: 'PENDING',
        createTime: new Date('2026-12-04T07:00:00Z'),
      }),
      buildSeed({
        id: 'running-prod',
        state: 'IN_PROGRESS',
        createTime: new Date('2026-12-04T07:30:00Z'),
        automationId: 'advance',
        ruleId: 'advance-rule',
      }),
      buildSeed({
        id: 'cancelled-late',
        state: 'CANCELLED',
        createTime: new Date('2026-12-04T07:45:00Z'),
        updateTime: new Date('2026-12-04T10:30:00Z'),
      }),
      buildSeed({
        id: 'cancelled-early',
        state: 'CANCELLED',
        createTime: new Date('2026-12-04T07:50:00Z'),
        updateTime: new Date('2026-12-04T09:00:00Z'),
      }),
      buildSeed({
        id: 'pending-staging',
        state: 'PENDING',
        targetId: 'staging',
        createTime: new Date('2026-12-04T07:55:00Z'),
      }),
      buildSeed({ id: 'pending-new', createTime: new Date('2026-12-04T09:00:00Z') }),
    );
  });

  it.each([
    ['state = "PENDING"', ['pending-prod', 'pending-staging', 'pending-new']],
    ['state != "PENDING"', ['running-prod', 'cancelled-late', 'cancelled-early']],
    ['target_id = "staging"', ['pending-staging']],
    ['targetId != "prod"', ['pending-staging']],
    ['automation_id = "advance"', ['running-prod']],
    ['automationId = "advance"', ['running-prod']],
    ['rule_id = "advance-rule"', ['running-prod']],
    ['ruleId != "promote"', ['running-prod']],
    [`name = "${runName('pending-new')}"`, ['pending-new']],
    ['create_time < "2026-12-04T07:30:00Z"', ['pending-prod']],
    ['create_time <= "2026-12-04T07:30:00Z"', ['pending-prod', 'running-prod']],
    ['createTime > "2026-12-04T07:55:00Z"', ['pending-new']],
    ['create_time >= "2026-12-04T08:55:00+01:00"', ['pending-staging', 'pending-new']],
    ['update_time > "2026-12-04T09:00:00Z"', ['cancelled-late']],
    ['updateTime = "2026-12-04T09:00:00.000Z"', ['cancelled-early', 'pending-new']],
    ['NOT state = "PENDING" AND NOT state = "CANCELLED"', ['running-prod']],
    ['-target_id = "prod"', ['pending-staging']],
    [
      '(state = "PENDING" OR state = "IN_PROGRESS" OR (state = "CANCELLED" AND update_time >= "2026-12-04T10:00:00Z")) AND target_id = "prod" AND create_time <= "2026-12-04T08:00:00Z"',
      ['pending-prod', 'running-prod', 'cancelled-late'],
    ],
  ])('%s', async (filter, expected) => {
    expect(await listAll({ filter })).toEqual(expected);
  });

  it.each([
    'state = PENDING',
    'state = "RUNNING"',
    'colour = "red"',
    'create_time < "yesterday"',
    '(state = "PENDING"',
    'state = "PENDING" AND',
  ])('answers INVALID_ARGUMENT with a message for %j', async (filter) => {
    await expect(listAll({ filter })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringMatching(/^filter ".*": invalid filter at position \d+: .+/),
    });
  });
});

describe('other methods', () => {
  it('answers UNIMPLEMENTED and logs the call', async () => {
    await expect(
      client.getAutomation({ name: `${PIPELINE}/automations/promote` }, ONCE),
    ).rejects.toMatchObject({ code: grpc.status.UNIMPLEMENTED });
    expect(emulator.calls.map((call) => call.method)).toEqual(['GetAutomation']);
  });
});

describe('fault injection', () => {
  it('fails the next call with a code given by name or number, then recovers', async () => {
    const seeded = emulator.seedRun(buildSeed());
    emulator.injectFault({ method: 'GetAutomationRun', code: 'UNAVAILABLE' });
    emulator.injectFault({
      method: 'GetAutomationRun',
      code: grpc.status.INTERNAL,
      message: 'boom',
    });
    await expect(client.getAutomationRun({ name: seeded.name }, ONCE)).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
      details: 'Injected fault: UNAVAILABLE',
    });
    await expect(client.getAutomationRun({ name: seeded.name }, ONCE)).rejects.toMatchObject({
      code: grpc.status.INTERNAL,
      details: 'boom',
    });
    await expect(client.getAutomationRun({ name: seeded.name }, ONCE)).resolves.toBeDefined();
  });

  it('applies a fault as many times as asked, to the method asked', async () => {
    const seeded = emulator.seedRun(buildSeed());
    emulator.injectFault({ method: 'CancelAutomationRun', code: 'ABORTED', times: 2 });
    await expect(client.getAutomationRun({ name: seeded.name }, ONCE)).resolves.toBeDefined();
    for (let attempt = 0; attempt < 2; attempt += 1) {
      await expect(client.cancelAutomationRun({ name: seeded.name }, ONCE)).rejects.toMatchObject({
        code: grpc.status.ABORTED,
      });
    }
    expect(emulator.getRun(seeded.name)?.state).toBe('PENDING');
    await expect(client.cancelAutomationRun({ name: seeded.name }, ONCE)).resolves.toBeDefined();
  });

  it('limits a fault to one run, and "*" to every method', async () => {
    const target = emulator.seedRun(buildSeed({ id: 'target' }));
    const bystander = emulator.seedRun(buildSeed({ id: 'bystander' }));
    emulator.injectFault({
      method: '*',
      code: 'PERMISSION_DENIED',
      runName: target.name,
      times: 2,
    });
    await expect(client.getAutomationRun({ name: bystander.name }, ONCE)).resolves.toBeDefined();
    await expect(client.cancelAutomationRun({ name: target.name }, ONCE)).rejects.toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
    });
    await expect(client.getAutomationRun({ name: target.name }, ONCE)).rejects.toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
    });
    emulator.injectFault({ method: '*', code: 'UNAVAILABLE' });
    await expect(listAll({})).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  });

  it('can apply a cancel and still answer with an error', async () => {
    const seeded = emulator.seedRun(buildSeed());
    emulator.injectFault({
      method: 'CancelAutomationRun',
      code: 'DEADLINE_EXCEEDED',
      afterEffect: true,
    });
    await expect(client.cancelAutomationRun({ name: seeded.name }, ONCE)).rejects.toMatchObject({
      code: grpc.status.DEADLINE_EXCEEDED,
    });
    expect(emulator.getRun(seeded.name)?.state).toBe('CANCELLED');
    expect(emulator.cancelCount(seeded.name)).toBe(1);
    await expect(client.cancelAutomationRun({ name: seeded.name }, ONCE)).rejects.toMatchObject({
      code: grpc.status.FAILED_PRECONDITION,
    });
    expect(emulator.cancelCount(seeded.name)).toBe(1);
  });

  it('delays a call past the client deadline, then answers the next one at once', async () => {
    const seeded = emulator.seedRun(buildSeed());
    emulator.injectFault({ method: 'GetAutomationRun', delayMs: 2_000 });
    const started = Date.now();
    await expect(
      client.getAutomationRun({ name: seeded.name }, { retry: null, timeout: 100 }),
    ).rejects.toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
    expect(Date.now() - started).toBeLessThan(1_500);
    await expect(
      client.getAutomationRun({ name: seeded.name }, { retry: null, timeout: 1_000 }),
    ).resolves.toBeDefined();
  });

  it('rejects faults that cannot apply', () => {
    expect(() => emulator.injectFault({ method: 'GetAutomationRun' })).toThrow(/code, a delayMs/);
    expect(() => emulator.injectFault({ method: 'GetAutomationRun', code: 'OK' })).toThrow(
      /Not a gRPC error code/,
    );
    expect(() =>
      emulator.injectFault({ method: 'GetAutomationRun', code: 'INTERNAL', times: 0 }),
    ).toThrow(/at least once/);
    expect(() =>
      emulator.injectFault({ method: 'DeleteTarget' as 'GetAutomationRun', code: 'INTERNAL' }),
    ).toThrow(/Unknown method/);
  });
});

describe('control surface', () => {
  it('delays every call by the latency', async () => {
    const seeded = emulator.seedRun(buildSeed());
    emulator.setLatency(150);
    const started = Date.now();
    await client.getAutomationRun({ name: seeded.name }, ONCE);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('reports how long it held the delayed calls, then starts counting again', async () => {
    const seeded = emulator.seedRun(buildSeed());
    emulator.takeDelayStatistics();
    await client.getAutomationRun({ name: seeded.name }, ONCE);
    emulator.setLatency(60);
    await client.getAutomationRun({ name: seeded.name }, ONCE);
    await client.getAutomationRun({ name: seeded.name }, ONCE);
    const held = emulator.takeDelayStatistics();
    expect(held.calls).toBe(2);
    expect(held.meanMs).toBeGreaterThanOrEqual(59);
    expect(emulator.takeDelayStatistics()).toEqual({ calls: 0, meanMs: 0 });
  });

  it('logs every call with its method and resource', async () => {
    const seeded = emulator.seedRun(buildSeed());
    await client.getAutomationRun({ name: seeded.name }, ONCE);
    await client.cancelAutomationRun({ name: seeded.name }, ONCE);
    await listAll({});
    expect(emulator.calls.map(({ method, name }) => ({ method, name }))).toEqual([
      { method: 'GetAutomationRun', name: seeded.name },
      { method: 'CancelAutomationRun', name: seeded.name },
      { method: 'ListAutomationRuns', name: PIPELINE },
    ]);
    expect(emulator.calls[0]?.time).toEqual(START);
  });

  it('moves runs between states and lists them by pipeline', () => {
    const seeded = emulator.seedRun(buildSeed());
    emulator.seedRun(buildSeed({ name: runName('other', OTHER_PIPELINE) }));
    clock = new Date('2026-12-04T08:10:00Z');
    const updated = emulator.setState(seeded.name, 'SUCCEEDED', 'done');
    expect(updated).toMatchObject({
      state: 'SUCCEEDED',
      stateDescription: 'done',
      updateTime: clock,
    });
    expect(emulator.getRun(seeded.name)).toEqual(updated);
    expect(emulator.runs(PIPELINE).map((run) => run.name)).toEqual([seeded.name]);
    expect(emulator.runs()).toHaveLength(2);
    expect(emulator.getRun(runName('missing'))).toBeUndefined();
  });

  it('gives seeded runs the defaults of a new run', () => {
    const run = emulator.seedRun({ name: runName('bare') });
    expect(run).toEqual({
      name: runName('bare'),
      createTime: START,
      updateTime: START,
      etag: expect.any(String),
      serviceAccount: '',
      targetId: '',
      state: 'PENDING',
      stateDescription: '',
      expireTime: new Date('2026-12-18T08:00:00.000Z'),
      ruleId: '',
      automationId: '',
      waitUntilTime: undefined,
    });
  });

  it('refuses bad seeds and unknown runs', () => {
    expect(() => emulator.seedRun({ name: 'projects/p/automationRuns/x' })).toThrow(
      /Not an AutomationRun name/,
    );
    expect(() => emulator.setState(runName('missing'), 'FAILED')).toThrow(/No such AutomationRun/);
  });

  it('forgets everything on reset', async () => {
    const seeded = emulator.seedRun(buildSeed());
    await client.cancelAutomationRun({ name: seeded.name }, ONCE);
    emulator.injectFault({ method: '*', code: 'INTERNAL' });
    emulator.setLatency(5_000);
    emulator.reset();
    expect(emulator.runs()).toEqual([]);
    expect(emulator.calls).toEqual([]);
    expect(emulator.cancelCount(seeded.name)).toBe(0);
    await expect(client.getAutomationRun({ name: seeded.name }, ONCE)).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
    });
  });
});

describe('HTTP control server', () => {
  let control: ControlServer;

  beforeAll(async () => {
    control = await startControlServer(emulator);
  });

  afterAll(async () => {
    await control.close();
  });

  async function send(method: string, route: string, body?: unknown) {
    const response = await fetch(`${control.url}${route}`, {
      method,
      ...(body === undefined
        ? {}
        : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
  }

  it('seeds one run, a list, or {runs}, with dates as RFC 3339', async () => {
    const one = await send('POST', '/runs', {
      name: runName('one'),
      createTime: '2026-12-04T07:00:00Z',
      targetId: 'prod',
    });
    expect(one.status).toBe(201);
    expect(one.body.runs[0]).toMatchObject({
      name: runName('one'),
      createTime: '2026-12-04T07:00:00.000Z',
      state: 'PENDING',
      targetId: 'prod',
      cancelCount: 0,
    });
    expect((await send('POST', '/runs', [{ name: runName('two') }])).status).toBe(201);
    expect((await send('POST', '/runs', { runs: [{ name: runName('three') }] })).status).toBe(201);
    expect(emulator.runs(PIPELINE)).toHaveLength(3);
    const [run] = await client.getAutomationRun({ name: runName('one') }, ONCE);
    expect(run.targetId).toBe('prod');
  });

  it('changes states with PATCH or POST on /runs/state', async () => {
    emulator.seedRun(buildSeed());
    const patched = await send('PATCH', '/runs/state', {
      name: runName('run-1'),
      state: 'IN_PROGRESS',
    });
    expect(patched).toMatchObject({ status: 200, body: { run: { state: 'IN_PROGRESS' } } });
    const posted = await send('POST', '/runs/state', {
      name: runName('run-1'),
      state: 'SUCCEEDED',
    });
    expect(posted.body.run.state).toBe('SUCCEEDED');
    const missing = await send('PATCH', '/runs/state', { name: runName('nope'), state: 'FAILED' });
    expect(missing.status).toBe(404);
  });

  it('lists runs with their cancel counts, optionally by pipeline', async () => {
    emulator.seedRun(buildSeed());
    emulator.seedRun(buildSeed({ name: runName('other', OTHER_PIPELINE) }));
    await client.cancelAutomationRun({ name: runName('run-1') }, ONCE);
    const all = await send('GET', '/runs');
    expect(all.body.runs).toHaveLength(2);
    const web = await send('GET', `/runs?pipeline=${encodeURIComponent(PIPELINE)}`);
    expect(web.body.runs).toEqual([
      expect.objectContaining({ name: runName('run-1'), state: 'CANCELLED', cancelCount: 1 }),
    ]);
  });

  it('injects faults, sets latency, shows calls and resets', async () => {
    emulator.seedRun(buildSeed());
    expect(
      (await send('POST', '/faults', { method: 'GetAutomationRun', code: 'UNAVAILABLE' })).status,
    ).toBe(204);
    await expect(client.getAutomationRun({ name: runName('run-1') }, ONCE)).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
    expect((await send('POST', '/latency', { ms: 120 })).status).toBe(204);
    const started = Date.now();
    await client.getAutomationRun({ name: runName('run-1') }, ONCE);
    expect(Date.now() - started).toBeGreaterThanOrEqual(110);
    const calls = await send('GET', '/calls');
    expect(calls.body.calls).toHaveLength(2);
    expect((await send('POST', '/reset')).status).toBe(204);
    expect(emulator.runs()).toEqual([]);
  });

  it.each([
    ['POST', '/runs', 'not json', 400, /not JSON/],
    ['POST', '/runs', { name: runName('x'), state: 'RUNNING' }, 400, /^0\.state: /],
    ['POST', '/runs', { name: 'bad/name' }, 400, /Not an AutomationRun name/],
    ['POST', '/runs', { name: runName('x'), colour: 'red' }, 400, /colour/],
    ['POST', '/faults', { method: 'DeleteTarget', code: 'INTERNAL' }, 400, /method/],
    ['POST', '/faults', { method: '*' }, 400, /code, a delayMs/],
    ['POST', '/latency', { ms: -1 }, 400, /ms/],
    ['DELETE', '/runs', undefined, 405, /not allowed/],
    ['GET', '/nowhere', undefined, 404, /No route/],
  ])('%s %s %j answers %i', async (method, route, body, status, message) => {
    const response = await send(method, route, body);
    expect(response.status).toBe(status);
    expect(response.body.error).toMatch(message);
  });
});

describe('command line', () => {
  let directory: string;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    directory = await mkdtemp(path.join(os.tmpdir(), 'deploy-emulator-'));
    await build({
      entryPoints: [path.join(__dirname, '../../src/emulator/deploy-emulator-main.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      packages: 'external',
      outfile: path.join(directory, 'deploy-emulator-main.js'),
      logLevel: 'silent',
    });
  });

  afterAll(async () => {
    if (child?.exitCode === null) child.kill('SIGKILL');
    await rm(directory, { recursive: true, force: true });
  });

  it('prints both addresses, serves gRPC and HTTP, and stops on SIGTERM', async () => {
    child = spawn(
      process.execPath,
      [path.join(directory, 'deploy-emulator-main.js'), '--port', '0', '--control-port', '0'],
      {
        // The bundle lives outside the project; let it find the project's packages.
        env: { ...process.env, NODE_PATH: path.join(__dirname, '../../node_modules') },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const [line] = (await once(lines, 'line')) as [string];
    const match = /CLOUD_DEPLOY_EMULATOR_HOST=(\S+) control=(\S+)/.exec(line);
    expect(match).not.toBeNull();
    const [, host = '', controlUrl = ''] = match ?? [];

    const seeded = await fetch(`${controlUrl}/runs`, {
      method: 'POST',
      body: JSON.stringify({ name: runName('cli'), state: 'IN_PROGRESS' }),
    });
    expect(seeded.status).toBe(201);
    const cliClient = deployClient(host);
    await cliClient.cancelAutomationRun({ name: runName('cli') }, ONCE);
    const [run] = await cliClient.getAutomationRun({ name: runName('cli') }, ONCE);
    expect(run.state).toBe('CANCELLED');
    await cliClient.close();

    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code, signal] = (await exited) as [number | null, string | null];
    expect({ code, signal }).toEqual({ code: 0, signal: null });
  });
});
