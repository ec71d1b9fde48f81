import type { Topic } from '@google-cloud/pubsub';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CloudDeployEmulator, Fault } from '../../src/emulator/deploy-emulator';
import type { FunctionServer } from '../../src/emulator/function-server';
import type { PubSubFixtures } from '../../src/emulator/pubsub-fixtures';
import { describeWithPubSubEmulator } from '../support/emulator-env';
import { recordFigures } from './support/figures';
import {
  type AuditLedger,
  doubleCancelled,
  nonJsonLogLines,
  type PushStack,
  pipelineOf,
  runOf,
  startPushStack,
  waitForQuiet,
} from './support/stack';

/**
 * Cloud Deploy misbehaving under the real function: bursts of UNAVAILABLE, a cancel that
 * timed out after it took effect, answers slower than the adapter's deadlines. Whatever the
 * fault, every request ends audited, every run it names or selects is decided, and no run is
 * cancelled twice.
 */

interface Scenario {
  readonly title: string;
  readonly runCount: number;
  readonly request: (pipeline: string, runs: readonly string[]) => unknown;
  readonly faults: (pipeline: string, runs: readonly string[]) => Fault[];
}

const named = (_: string, runs: readonly string[]) => ({
  automationRuns: runs,
  reason: 'fault drill',
});
const sweep = (pipeline: string) => ({ pipeline, reason: 'fault drill sweep' });

const SCENARIOS: Scenario[] = [
  {
    title: 'an UNAVAILABLE burst on GetAutomationRun (retried inside the adapter)',
    runCount: 3,
    request: named,
    faults: (_, [first, second]) => [
      { method: 'GetAutomationRun', code: 'UNAVAILABLE', times: 3, runName: first },
      { method: 'GetAutomationRun', code: 'UNAVAILABLE', times: 2, runName: second },
    ],
  },
  {
    title: 'an UNAVAILABLE burst on ListAutomationRuns (retried inside the adapter)',
    runCount: 4,
    request: sweep,
    faults: (pipeline) => [
      { method: 'ListAutomationRuns', code: 'UNAVAILABLE', times: 3, runName: pipeline },
    ],
  },
  {
    title: 'an UNAVAILABLE burst on CancelAutomationRun (retried through redelivery)',
    runCount: 3,
    request: named,
    faults: (_, [first, second]) => [
      { method: 'CancelAutomationRun', code: 'UNAVAILABLE', times: 2, runName: first },
      { method: 'CancelAutomationRun', code: 'UNAVAILABLE', times: 1, runName: second },
    ],
  },
  {
    title: 'an UNAVAILABLE burst on CancelAutomationRun during a sweep',
    runCount: 4,
    request: sweep,
    faults: (_, [first]) => [
      { method: 'CancelAutomationRun', code: 'UNAVAILABLE', times: 2, runName: first },
    ],
  },
  {
    title: 'DEADLINE_EXCEEDED and UNAVAILABLE answered after the cancel took effect',
    runCount: 3,
    request: named,
    faults: (_, [first, second]) => [
      {
        method: 'CancelAutomationRun',
        code: 'DEADLINE_EXCEEDED',
        afterEffect: true,
        runName: first,
      },
      { method: 'CancelAutomationRun', code: 'UNAVAILABLE', afterEffect: true, runName: second },
    ],
  },
  {
    title: 'a GetAutomationRun slower than its 5 s attempt deadline',
    runCount: 2,
    request: named,
    faults: (_, [first]) => [{ method: 'GetAutomationRun', delayMs: 6_000, runName: first }],
  },
  {
    title: 'a ListAutomationRuns page slower than its 5 s attempt deadline',
    runCount: 3,
    request: sweep,
    faults: (pipeline) => [{ method: 'ListAutomationRuns', delayMs: 6_000, runName: pipeline }],
  },
  {
    title: 'a GetAutomationRun slower than the 20 s budget of all its attempts',
    runCount: 2,
    request: named,
    faults: (_, [first]) => [
      { method: 'GetAutomationRun', delayMs: 6_000, times: 4, runName: first },
    ],
  },
  {
    title: 'a CancelAutomationRun answered after 11 s, beyond its 10 s deadline',
    runCount: 2,
    request: named,
    faults: (_, [first]) => [{ method: 'CancelAutomationRun', delayMs: 11_000, runName: first }],
  },
];

describeWithPubSubEmulator('faults in Cloud Deploy', () => {
  let deploy: CloudDeployEmulator;
  let pubsub: PubSubFixtures;
  let requests: Topic;
  let ledger: AuditLedger;
  let server: FunctionServer;

  let stack: PushStack;

  beforeAll(async () => {
    stack = await startPushStack({ label: 'fault', env: { RUN_CONCURRENCY: '4' } });
    ({ deploy, pubsub, requests, ledger, server } = stack);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  // Each scenario has its own pipeline and runs, and its faults name them: they run side by side.
  it.concurrent.for(SCENARIOS.map((scenario, index) => [scenario.title, scenario, index] as const))(
    'survives %s',
    async ([, scenario, index], { expect, task }) => {
      const pipeline = pipelineOf(`faults-${index}`);
      const runs = Array.from({ length: scenario.runCount }, (__, run) =>
        runOf(pipeline, `run-${run}`),
      );
      runs.forEach((name, run) => {
        deploy.seedRun({ name, state: run % 2 === 0 ? 'IN_PROGRESS' : 'PENDING' });
      });
      const faults = scenario.faults(pipeline, runs);
      for (const fault of faults) deploy.injectFault(fault);

      const messageId = await pubsub.publishJson(requests, scenario.request(pipeline, runs));
      const accounting = await ledger.settle([{ messageId, runs }], 150_000);
      // Let any redelivery still under way finish before counting cancels.
      await waitForQuiet(deploy, 4_000, 90_000, pipeline);
      await ledger.drain(1_000, 10_000);

      const fired = faults.map((fault) => {
        const matching = deploy.calls.filter(
          (call) => call.method === fault.method && call.name === fault.runName,
        ).length;
        return Math.min(matching, fault.times ?? 1);
      });
      const doubles = doubleCancelled(deploy, pipeline);
      recordFigures(
        {
          faults: fired.reduce((sum, count) => sum + count, 0),
          lost: accounting.lost,
          doubleCancelled: doubles.length,
        },
        task.name,
      );

      expect(accounting.missing).toEqual([]);
      expect(doubles).toEqual([]);
      expect(fired).toEqual(faults.map((fault) => fault.times ?? 1));
      expect(ledger.invalid).toEqual([]);
      expect(ledger.of(messageId).every((event) => event.automationRun?.startsWith(pipeline))).toBe(
        true,
      );
      for (const name of runs) {
        expect(deploy.getRun(name)?.state).toBe('CANCELLED');
        expect(deploy.cancelCount(name)).toBe(1);
      }
      const outcomes = new Set(ledger.of(messageId).map((event) => event.outcome));
      expect(
        [...outcomes].every((outcome) => ['CANCELLED', 'NOT_CANCELLABLE'].includes(outcome)),
      ).toBe(true);
    },
  );

  it('wrote nothing but JSON to stdout through every fault', () => {
    expect(nonJsonLogLines(server)).toEqual([]);
    expect(
      server.logs.some((line) => String(line.json?.message ?? '').startsWith('retrying')),
    ).toBe(true);
  });
});
