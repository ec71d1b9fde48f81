import type { Topic } from '@google-cloud/pubsub';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CloudDeployEmulator } from '../../src/emulator/deploy-emulator';
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
  sleep,
  startPushStack,
  waitForQuiet,
} from './support/stack';

/**
 * The function process dies (SIGKILL) in the middle of a 200-run sweep and comes back. Pub/Sub
 * redelivers the sweep; it must finish the job without cancelling any run twice, and every run
 * must end audited (CANCELLED by the first attempt, or NOT_CANCELLABLE when the retry finds it
 * cancelled already, under the same eventId).
 */

const PIPELINE = pipelineOf('crash');
const RUNS = 200;
const KILL_AFTER_CANCELS = 40;

describeWithPubSubEmulator('the function killed mid-sweep', () => {
  let deploy: CloudDeployEmulator;
  let pubsub: PubSubFixtures;
  let requests: Topic;
  let ledger: AuditLedger;
  let server: FunctionServer;

  let stack: PushStack;

  beforeAll(async () => {
    stack = await startPushStack({
      label: 'crash',
      env: { MAX_RUNS_PER_EVENT: '1000', RUN_CONCURRENCY: '2' },
      deployLatencyMs: 25,
    });
    ({ deploy, pubsub, requests, ledger, server } = stack);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('finishes the sweep after a restart, cancelling each run once', async () => {
    const start = Date.now() - 3_600_000;
    const runs = Array.from({ length: RUNS }, (_, index) =>
      runOf(PIPELINE, `run-${String(index).padStart(3, '0')}`),
    );
    runs.forEach((name, index) => {
      deploy.seedRun({
        name,
        state: index % 3 === 0 ? 'PENDING' : 'IN_PROGRESS',
        createTime: new Date(start + index * 1000),
      });
    });
    const cancelled = () => runs.filter((name) => deploy.cancelCount(name) > 0).length;

    const messageId = await pubsub.publishJson(requests, {
      pipeline: PIPELINE,
      reason: 'crash drill',
    });
    for (let waited = 0; waited < 60_000 && cancelled() < KILL_AFTER_CANCELS; waited += 10) {
      await sleep(10);
    }
    const exit = await server.kill('SIGKILL');
    const cancelledAtKill = cancelled();
    expect(exit.signal).toBe('SIGKILL');
    // The kill landed in the middle of the sweep, not after it.
    expect(cancelledAtKill).toBeGreaterThanOrEqual(KILL_AFTER_CANCELS);
    expect(cancelledAtKill).toBeLessThan(RUNS);

    await server.restart();
    const accounting = await ledger.settle([{ messageId, runs }], 180_000);
    await waitForQuiet(deploy, 4_000, 90_000);
    await ledger.drain(1_000, 10_000);

    const events = ledger.of(messageId);
    const doubles = doubleCancelled(deploy);
    recordFigures({
      faults: 1,
      // The sweep was delivered again after the crash.
      duplicates: 1,
      lost: accounting.lost,
      doubleCancelled: doubles.length,
    });

    expect(accounting.missing).toEqual([]);
    expect(doubles).toEqual([]);
    expect(ledger.invalid).toEqual([]);
    expect(new Set(events.map((event) => event.eventId)).size).toBe(RUNS);
    expect(new Set(events.map((event) => event.automationRun)).size).toBe(RUNS);
    for (const name of runs) {
      expect(deploy.getRun(name)?.state).toBe('CANCELLED');
      expect(deploy.cancelCount(name)).toBe(1);
      const outcomes = events.filter((event) => event.automationRun === name);
      expect(
        outcomes.every((event) => ['CANCELLED', 'NOT_CANCELLABLE'].includes(event.outcome)),
      ).toBe(true);
      // One eventId per run, whichever delivery decided it.
      expect(new Set(outcomes.map((event) => event.eventId)).size).toBe(1);
    }
    expect(nonJsonLogLines(server)).toEqual([]);
  });
});
