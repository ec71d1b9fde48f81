import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type CloudDeployPort,
  createCloudDeployPort,
  DEFAULT_DEPLOY_CALL_TIMEOUTS,
  type DeployCallTimeouts,
  splitEmulatorHost,
  toAutomationRun,
} from '../src/cloud-deploy';
import { CloudDeployEmulator, type SeedRun } from '../src/emulator/deploy-emulator';
import { DeployApiError, type GrpcCodeName } from '../src/errors/deploy-api-error';
import { TcpListener } from './support/tcp-listener';

const PIPELINE = 'projects/my-proj/locations/us-central1/deliveryPipelines/web';
const START = new Date('2026-12-04T08:00:00.000Z');
/** Small budgets keep the retry and deadline tests fast. */
const TEST_TIMEOUTS: DeployCallTimeouts = {
  readAttemptMillis: 250,
  readTotalMillis: 1_200,
  readInitialBackoffMillis: 10,
  readMaxBackoffMillis: 40,
  cancelMillis: 300,
};

const runName = (id: string) => `${PIPELINE}/automationRuns/${id}`;

function buildSeed(overrides: Partial<SeedRun> & { id?: string } = {}): SeedRun {
  const { id = 'run-1', ...rest } = overrides;
  return {
    name: runName(id),
    state: 'IN_PROGRESS',
    createTime: START,
    targetId: 'prod',
    automationId: 'promote-to-prod',
    ruleId: 'promote',
    ...rest,
  };
}

async function rejection(promise: Promise<unknown>): Promise<DeployApiError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(DeployApiError);
    return error as DeployApiError;
  }
  throw new Error('expected the call to fail');
}

let emulator: CloudDeployEmulator;
let port: CloudDeployPort;

beforeAll(async () => {
  emulator = await CloudDeployEmulator.start({ now: () => START });
  port = createCloudDeployPort({ emulatorHost: emulator.host, timeouts: TEST_TIMEOUTS });
});

afterEach(() => {
  emulator.reset();
});

afterAll(async () => {
  await port.close();
  await emulator.stop();
});

// First in the file: nothing before it may have loaded the client library.
describe('client creation', () => {
  it('loads the client library and connects only at the first call', async () => {
    const libraryPath = require.resolve('@google-cloud/deploy/build/src/v1/cloud_deploy_client');
    const lazy = createCloudDeployPort({ emulatorHost: emulator.host, timeouts: TEST_TIMEOUTS });
    expect(require.cache[libraryPath]).toBeUndefined();
    expect(emulator.calls).toEqual([]);
    emulator.seedRun(buildSeed());
    await lazy.getRun(runName('run-1'));
    expect(require.cache[libraryPath]).toBeDefined();
    await lazy.getRun(runName('run-1'));
    expect(emulator.calls).toHaveLength(2);
    await lazy.close();
  });

  it('loads only the generated client, not the package entry and its message classes', () => {
    expect(require.cache[require.resolve('@google-cloud/deploy')]).toBeUndefined();
  });

  it('connects before the first call when warmed up, and the call then succeeds', async () => {
    const listener = await TcpListener.start();
    try {
      const warmed = createCloudDeployPort({ emulatorHost: listener.host });
      warmed.warmUp();
      await listener.connected();
      await warmed.close();
    } finally {
      await listener.stop();
    }
    const ready = createCloudDeployPort({ emulatorHost: emulator.host, timeouts: TEST_TIMEOUTS });
    ready.warmUp();
    ready.warmUp();
    emulator.seedRun(buildSeed());
    await expect(ready.getRun(runName('run-1'))).resolves.toMatchObject({ state: 'IN_PROGRESS' });
    expect(emulator.calls).toHaveLength(1);
    await ready.close();
  });

  it('leaves the errors of a failed warm-up to the first call', async () => {
    const broken = createCloudDeployPort({ emulatorHost: 'no-port-here' });
    expect(() => broken.warmUp()).not.toThrow();
    const error = await rejection(broken.getRun(runName('run-1')));
    expect(error.message).toMatch(/host:port/);
    const gone = createCloudDeployPort({ emulatorHost: '127.0.0.1:1', timeouts: TEST_TIMEOUTS });
    gone.warmUp();
    // The warm-up keeps the channel connecting, so the call may wait out its deadlines.
    expect(['UNAVAILABLE', 'DEADLINE_EXCEEDED']).toContain(
      (await rejection(gone.getRun(runName('run-1')))).code,
    );
    await gone.close();
  });

  it('closes without ever having connected', async () => {
    await expect(createCloudDeployPort({ emulatorHost: emulator.host }).close()).resolves.toBe(
      undefined,
    );
  });

  it('reports a malformed emulator host as a DeployApiError at the first call', async () => {
    const broken = createCloudDeployPort({ emulatorHost: 'no-port-here' });
    const error = await rejection(broken.getRun(runName('run-1')));
    expect(error).toMatchObject({ method: 'GetAutomationRun', code: 'UNKNOWN' });
    expect(error.message).toMatch(/host:port/);
  });

  it.each([
    ['127.0.0.1:8085', { apiEndpoint: '127.0.0.1', port: 8085 }],
    ['localhost:1', { apiEndpoint: 'localhost', port: 1 }],
    ['[::1]:8085', { apiEndpoint: '[::1]', port: 8085 }],
  ])('splits %s', (host, expected) => {
    expect(splitEmulatorHost(host)).toEqual(expected);
  });

  it.each(['8085', ':8085', 'localhost:', 'localhost:http', 'localhost:70000', 'localhost:0'])(
    'refuses %j',
    (host) => {
      expect(() => splitEmulatorHost(host)).toThrow(/host:port/);
    },
  );
});

describe('credentials', () => {
  const saved = { ...process.env };
  let metadataRequests: string[];
  let metadataServer: http.Server;
  let home: string;

  beforeAll(async () => {
    metadataRequests = [];
    // A stand-in metadata server: a credential lookup always ends up asking it.
    metadataServer = http.createServer((request, response) => {
      metadataRequests.push(request.url ?? '');
      response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => metadataServer.listen(0, '127.0.0.1', resolve));
    home = await mkdtemp(path.join(os.tmpdir(), 'no-credentials-'));
    delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
    process.env.HOME = home;
    process.env.CLOUDSDK_CONFIG = home;
    process.env.GCE_METADATA_HOST = `127.0.0.1:${(metadataServer.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    process.env = saved;
    metadataServer.close();
    await rm(home, { recursive: true, force: true });
  });

  it('never looks up Google credentials when talking to the emulator', async () => {
    emulator.seedRun(buildSeed());
    const fresh = createCloudDeployPort({ emulatorHost: emulator.host, timeouts: TEST_TIMEOUTS });
    await fresh.getRun(runName('run-1'));
    await fresh.listRuns(PIPELINE, '');
    await fresh.cancelRun(runName('run-1'));
    await fresh.close();
    expect(metadataRequests).toEqual([]);
  });

  it('does look them up for the real API (the check above can fail)', async () => {
    const real = createCloudDeployPort({ timeouts: TEST_TIMEOUTS });
    // A warm-up that cannot find credentials fails quietly; the call reports it.
    real.warmUp();
    const error = await rejection(real.getRun(runName('run-1')));
    expect(error.message).toMatch(/credentials/);
    expect(metadataRequests.length).toBeGreaterThan(0);
    await real.close();
  });
});

describe('getRun', () => {
  it('maps every field of the run', async () => {
    emulator.seedRun(
      buildSeed({
        state: 'PENDING',
        createTime: new Date('2026-12-04T07:59:58.123Z'),
        updateTime: new Date('2026-12-04T08:00:00.456Z'),
      }),
    );
    expect(await port.getRun(runName('run-1'))).toEqual({
      name: runName('run-1'),
      state: 'PENDING',
      createTime: new Date('2026-12-04T07:59:58.123Z'),
      updateTime: new Date('2026-12-04T08:00:00.456Z'),
      targetId: 'prod',
      automationId: 'promote-to-prod',
      ruleId: 'promote',
    });
  });

  it('leaves unset strings undefined', async () => {
    emulator.seedRun({ name: runName('bare'), state: 'FAILED' });
    expect(await port.getRun(runName('bare'))).toMatchObject({
      state: 'FAILED',
      targetId: undefined,
      automationId: undefined,
      ruleId: undefined,
    });
  });

  it('retries through a burst of transient errors', async () => {
    emulator.seedRun(buildSeed());
    emulator.injectFault({ method: 'GetAutomationRun', code: 'UNAVAILABLE', times: 3 });
    emulator.injectFault({ method: 'GetAutomationRun', code: 'RESOURCE_EXHAUSTED' });
    emulator.injectFault({ method: 'GetAutomationRun', code: 'DEADLINE_EXCEEDED' });
    await expect(port.getRun(runName('run-1'))).resolves.toMatchObject({ state: 'IN_PROGRESS' });
    expect(emulator.calls).toHaveLength(6);
  });

  it('retries an attempt that outlives its deadline', async () => {
    emulator.seedRun(buildSeed());
    emulator.injectFault({ method: 'GetAutomationRun', delayMs: 5_000 });
    await expect(port.getRun(runName('run-1'))).resolves.toMatchObject({ state: 'IN_PROGRESS' });
    expect(emulator.calls).toHaveLength(2);
  });

  it('gives up with DEADLINE_EXCEEDED within the budget when every answer is too slow', async () => {
    emulator.seedRun(buildSeed());
    emulator.setLatency(5_000);
    const started = Date.now();
    const error = await rejection(port.getRun(runName('run-1')));
    const elapsed = Date.now() - started;
    expect(error).toMatchObject({ code: 'DEADLINE_EXCEEDED', method: 'GetAutomationRun' });
    expect(elapsed).toBeGreaterThanOrEqual(TEST_TIMEOUTS.readTotalMillis - 100);
    // Generous: the budget plus scheduling noise, far below the library's 600 s.
    expect(elapsed).toBeLessThan(TEST_TIMEOUTS.readTotalMillis + 2_000);
    expect(emulator.calls.length).toBeGreaterThanOrEqual(2);
  });

  it('does not retry a permanent error', async () => {
    emulator.injectFault({ method: 'GetAutomationRun', code: 'PERMISSION_DENIED' });
    const error = await rejection(port.getRun(runName('run-1')));
    expect(error.code).toBe('PERMISSION_DENIED');
    expect(emulator.calls).toHaveLength(1);
  });
});

describe('errors', () => {
  const permanent: GrpcCodeName[] = [
    'CANCELLED',
    'UNKNOWN',
    'INVALID_ARGUMENT',
    'NOT_FOUND',
    'ALREADY_EXISTS',
    'PERMISSION_DENIED',
    'FAILED_PRECONDITION',
    'ABORTED',
    'OUT_OF_RANGE',
    'UNIMPLEMENTED',
    'INTERNAL',
    'DATA_LOSS',
    'UNAUTHENTICATED',
  ];
  const transient: GrpcCodeName[] = ['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED'];

  it.each(permanent)(
    'wraps %s from every method with its code, message and cause',
    async (code) => {
      emulator.seedRun(buildSeed());
      const calls = [
        ['GetAutomationRun', () => port.getRun(runName('run-1'))],
        ['ListAutomationRuns', () => port.listRuns(PIPELINE, '')],
        ['CancelAutomationRun', () => port.cancelRun(runName('run-1'))],
      ] as const;
      for (const [method, call] of calls) {
        emulator.injectFault({ method, code, message: `${code} from ${method}` });
        const error = await rejection(call());
        expect(error).toMatchObject({
          name: 'DeployApiError',
          method,
          code,
          details: `${code} from ${method}`,
          message: `${method}: ${code}: ${code} from ${method}`,
        });
        expect(error.cause).toMatchObject({ details: `${code} from ${method}` });
      }
    },
  );

  it.each(transient)('wraps %s from a cancel, which is never retried', async (code) => {
    emulator.seedRun(buildSeed());
    emulator.injectFault({ method: 'CancelAutomationRun', code });
    const error = await rejection(port.cancelRun(runName('run-1')));
    expect(error).toMatchObject({ method: 'CancelAutomationRun', code });
    expect(emulator.calls).toHaveLength(1);
  });

  it('wraps the real rules of the API too', async () => {
    emulator.seedRun(buildSeed({ state: 'SUCCEEDED' }));
    await expect(rejection(port.getRun(runName('missing')))).resolves.toMatchObject({
      code: 'NOT_FOUND',
      details: `Resource '${runName('missing')}' was not found`,
    });
    await expect(rejection(port.cancelRun(runName('run-1')))).resolves.toMatchObject({
      code: 'FAILED_PRECONDITION',
    });
    await expect(rejection(port.listRuns(PIPELINE, 'state = PENDING'))).resolves.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it('reports an emulator that is gone as UNAVAILABLE, after retrying within the budget', async () => {
    const gone = await CloudDeployEmulator.start();
    const host = gone.host;
    await gone.stop();
    const orphan = createCloudDeployPort({ emulatorHost: host, timeouts: TEST_TIMEOUTS });
    const started = Date.now();
    const error = await rejection(orphan.getRun(runName('run-1')));
    expect(['UNAVAILABLE', 'DEADLINE_EXCEEDED']).toContain(error.code);
    expect(Date.now() - started).toBeLessThan(TEST_TIMEOUTS.readTotalMillis + 2_000);
    await orphan.close();
  });
});

describe('cancelRun', () => {
  it('cancels the run once', async () => {
    emulator.seedRun(buildSeed());
    await port.cancelRun(runName('run-1'));
    expect(emulator.getRun(runName('run-1'))?.state).toBe('CANCELLED');
    expect(emulator.cancelCount(runName('run-1'))).toBe(1);
  });

  it('makes one attempt only, even when it times out', async () => {
    emulator.seedRun(buildSeed());
    emulator.injectFault({ method: 'CancelAutomationRun', delayMs: 2_000 });
    const started = Date.now();
    const error = await rejection(port.cancelRun(runName('run-1')));
    expect(error.code).toBe('DEADLINE_EXCEEDED');
    expect(Date.now() - started).toBeLessThan(TEST_TIMEOUTS.cancelMillis + 1_500);
    expect(emulator.calls.map((call) => call.method)).toEqual(['CancelAutomationRun']);
  });

  it('leaves the ambiguity of a cancel that took effect but failed to the caller', async () => {
    emulator.seedRun(buildSeed());
    emulator.injectFault({
      method: 'CancelAutomationRun',
      code: 'DEADLINE_EXCEEDED',
      afterEffect: true,
    });
    const error = await rejection(port.cancelRun(runName('run-1')));
    expect(error.code).toBe('DEADLINE_EXCEEDED');
    expect(emulator.calls).toHaveLength(1);
    // Re-reading tells the truth, and a second cancel cannot happen.
    expect((await port.getRun(runName('run-1'))).state).toBe('CANCELLED');
    expect((await rejection(port.cancelRun(runName('run-1')))).code).toBe('FAILED_PRECONDITION');
    expect(emulator.cancelCount(runName('run-1'))).toBe(1);
  });
});

describe('listRuns', () => {
  it('reads every page, 1000 runs at a time, passing the filter', async () => {
    emulator.seedRuns(
      Array.from({ length: 2_500 }, (_, index) =>
        buildSeed({
          id: `run-${String(index).padStart(4, '0')}`,
          createTime: new Date(START.getTime() + index * 1000),
          targetId: index % 5 === 0 ? 'staging' : 'prod',
        }),
      ),
    );
    const all = await port.listRuns(PIPELINE, '');
    expect(all).toHaveLength(2_500);
    expect(new Set(all.map((run) => run.name)).size).toBe(2_500);
    expect(emulator.calls.filter((call) => call.method === 'ListAutomationRuns')).toHaveLength(3);
    expect(all[0]).toEqual({
      name: runName('run-0000'),
      state: 'IN_PROGRESS',
      createTime: START,
      updateTime: START,
      targetId: 'staging',
      automationId: 'promote-to-prod',
      ruleId: 'promote',
    });

    const staging = await port.listRuns(PIPELINE, 'target_id = "staging"');
    expect(staging).toHaveLength(500);
    expect(staging.every((run) => run.targetId === 'staging')).toBe(true);
  });

  it('returns an empty list for a pipeline without runs', async () => {
    await expect(port.listRuns(PIPELINE, '')).resolves.toEqual([]);
  });

  it('retries a page through a transient error', async () => {
    emulator.seedRun(buildSeed());
    emulator.injectFault({ method: 'ListAutomationRuns', code: 'UNAVAILABLE', times: 2 });
    await expect(port.listRuns(PIPELINE, '')).resolves.toHaveLength(1);
    expect(emulator.calls).toHaveLength(3);
  });
});

describe('toAutomationRun', () => {
  it.each([
    [0, 'STATE_UNSPECIFIED'],
    [1, 'SUCCEEDED'],
    [2, 'CANCELLED'],
    [3, 'FAILED'],
    [4, 'IN_PROGRESS'],
    [5, 'PENDING'],
    [6, 'ABORTED'],
    [99, 'STATE_UNSPECIFIED'],
    ['PENDING', 'PENDING'],
    ['IN_PROGRESS', 'IN_PROGRESS'],
    ['SOMETHING_NEW', 'STATE_UNSPECIFIED'],
    [null, 'STATE_UNSPECIFIED'],
    [undefined, 'STATE_UNSPECIFIED'],
  ] as const)('maps the state %j to %s', (state, expected) => {
    const run = toAutomationRun({ name: runName('x'), state: state as 5 });
    expect(run.state).toBe(expected);
  });

  it.each([
    ['a string', '1796371200', 5_000_000, new Date('2026-12-04T08:00:00.005Z')],
    ['a number', 1796371200, 0, new Date('2026-12-04T08:00:00.000Z')],
    ['a Long', { toString: () => '1796371200' }, 999_999_999, new Date('2026-12-04T08:00:00.999Z')],
  ])('reads Timestamp seconds given as %s', (_label, seconds, nanos, expected) => {
    const run = toAutomationRun({
      name: runName('x'),
      createTime: { seconds: seconds as string, nanos },
    });
    expect(run.createTime).toEqual(expected);
  });

  it('leaves missing timestamps and strings undefined', () => {
    expect(toAutomationRun({ name: runName('x'), createTime: null, targetId: '' })).toEqual({
      name: runName('x'),
      state: 'STATE_UNSPECIFIED',
      createTime: undefined,
      updateTime: undefined,
      targetId: undefined,
      automationId: undefined,
      ruleId: undefined,
    });
  });
});

describe('DEFAULT_DEPLOY_CALL_TIMEOUTS', () => {
  it('keeps one run decision (get, cancel, get again) well inside a minute', () => {
    const worst =
      2 * DEFAULT_DEPLOY_CALL_TIMEOUTS.readTotalMillis + DEFAULT_DEPLOY_CALL_TIMEOUTS.cancelMillis;
    expect(worst).toBeLessThanOrEqual(60_000);
    expect(DEFAULT_DEPLOY_CALL_TIMEOUTS.readAttemptMillis).toBeLessThan(
      DEFAULT_DEPLOY_CALL_TIMEOUTS.readTotalMillis,
    );
  });
});
