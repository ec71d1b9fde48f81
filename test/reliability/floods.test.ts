import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Topic } from '@google-cloud/pubsub';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit-event';
import type { CloudDeployEmulator } from '../../src/emulator/deploy-emulator';
import { type FunctionServer, postPubSubPush } from '../../src/emulator/function-server';
import type { PubSubFixtures } from '../../src/emulator/pubsub-fixtures';
import { describeWithPubSubEmulator } from '../support/emulator-env';
import { recordFigures } from './support/figures';
import {
  type AuditLedger,
  doubleCancelled,
  type Expectation,
  nonJsonLogLines,
  type PushStack,
  pipelineOf,
  publishAll,
  runOf,
  startPushStack,
  waitForQuiet,
} from './support/stack';

/**
 * Floods and duplicates through the real Pub/Sub emulator and Functions Framework: a thousand
 * distinct requests, a storm of copies of one open incident, the same request published again
 * and the same message delivered again. Each run is cancelled once, every message is audited,
 * and eventIds follow (message, run).
 */

const INCIDENT = JSON.parse(
  readFileSync(join(__dirname, '..', 'fixtures', 'monitoring', 'incident-open.json'), 'utf8'),
) as Record<string, unknown>;
const CHECKOUT = pipelineOf('checkout');
const FLOOD = pipelineOf('flood');
const DUPLICATES = pipelineOf('duplicates');

describeWithPubSubEmulator('floods and duplicates', () => {
  let deploy: CloudDeployEmulator;
  let pubsub: PubSubFixtures;
  let requests: Topic;
  let ledger: AuditLedger;
  let server: FunctionServer;

  let stack: PushStack;

  beforeAll(async () => {
    stack = await startPushStack({ label: 'flood' });
    ({ deploy, pubsub, requests, ledger, server } = stack);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  /** Waits for Cloud Deploy to go quiet, then for the audit; returns what is missing. */
  async function finish(expectations: readonly Expectation[], prefix: string) {
    await waitForQuiet(deploy, 4_000, 180_000, prefix);
    const accounting = await ledger.settle(expectations, 30_000);
    await ledger.drain(1_000, 10_000);
    return accounting;
  }

  it('cancels and audits 1,000 distinct requests, each run once', async () => {
    const runs = Array.from({ length: 1000 }, (_, index) => runOf(FLOOD, `run-${index}`));
    for (const name of runs) deploy.seedRun({ name, state: 'IN_PROGRESS' });
    const ids = await publishAll(
      pubsub,
      requests,
      runs.map((name, index) => ({ automationRun: name, requestId: `flood-${index}` })),
    );
    const expectations = ids.map((messageId, index) => ({
      messageId,
      runs: [runs[index] as string],
    }));
    const accounting = await finish(expectations, FLOOD);
    const doubles = doubleCancelled(deploy, FLOOD);
    recordFigures({ lost: accounting.lost, doubleCancelled: doubles.length });

    expect(accounting.missing).toEqual([]);
    expect(doubles).toEqual([]);
    expect(ledger.invalid).toEqual([]);
    expect(runs.filter((name) => deploy.cancelCount(name) !== 1)).toEqual([]);
    const cancelled = ids.flatMap((messageId) =>
      ledger.of(messageId).filter((event) => event.outcome === 'CANCELLED'),
    );
    expect(new Set(cancelled.map((event) => event.automationRun)).size).toBe(1000);
    expect(
      ids.map(
        (messageId, index) => ledger.of(messageId)[0]?.request.requestId === `flood-${index}`,
      ),
    ).not.toContain(false);
  });

  it('absorbs a storm of 500 copies of one open incident: each run cancelled once', async () => {
    const prod = Array.from({ length: 10 }, (_, index) => runOf(CHECKOUT, `prod-${index}`));
    const staging = Array.from({ length: 3 }, (_, index) => runOf(CHECKOUT, `staging-${index}`));
    const finished = [runOf(CHECKOUT, 'prod-done-0'), runOf(CHECKOUT, 'prod-done-1')];
    prod.forEach((name, index) => {
      deploy.seedRun({ name, state: index % 2 ? 'PENDING' : 'IN_PROGRESS', targetId: 'prod' });
    });
    for (const name of staging) deploy.seedRun({ name, state: 'IN_PROGRESS', targetId: 'staging' });
    for (const name of finished) deploy.seedRun({ name, state: 'SUCCEEDED', targetId: 'prod' });

    const copies = 500;
    const ids = await publishAll(
      pubsub,
      requests,
      Array.from({ length: copies }, () => INCIDENT),
    );
    // A copy is accounted for by its own audit events, whatever it found left to cancel.
    const expectations = ids.map((messageId) => ({ messageId, runs: [] }));
    const accounting = await finish(expectations, CHECKOUT);
    const doubles = doubleCancelled(deploy, CHECKOUT);
    recordFigures({
      duplicates: copies - 1,
      lost: accounting.lost,
      doubleCancelled: doubles.length,
    });

    expect(accounting.missing).toEqual([]);
    expect(doubles).toEqual([]);
    expect(ledger.invalid).toEqual([]);
    for (const name of prod) expect(deploy.cancelCount(name)).toBe(1);
    for (const name of [...staging, ...finished]) expect(deploy.cancelCount(name)).toBe(0);
    const events = ids.flatMap((messageId) => ledger.of(messageId));
    const cancels = events.filter((event) => event.outcome === 'CANCELLED');
    expect(cancels.map((event) => event.automationRun).sort()).toEqual([...prod].sort());
    for (const event of events) {
      expect(event.request).toMatchObject({ source: 'ALERT', incidentId: '0.nq3c7k2v1xab' });
      if (event.automationRun !== null) expect(prod).toContain(event.automationRun);
    }
  });

  it('keeps eventIds per (message, run) across copies and redeliveries, with one cancel', async () => {
    const copied = [runOf(DUPLICATES, 'copied-a'), runOf(DUPLICATES, 'copied-b')];
    const posted = runOf(DUPLICATES, 'posted-twice');
    const raced = runOf(DUPLICATES, 'posted-at-once');
    const [early, failing] = [runOf(DUPLICATES, 'early'), runOf(DUPLICATES, 'failing')];
    for (const name of [...copied, posted, raced, early, failing]) {
      deploy.seedRun({ name, state: 'IN_PROGRESS' });
    }

    // The same request published five times: five messages, five sets of eventIds.
    const copiedIds = await publishAll(
      pubsub,
      requests,
      Array.from({ length: 5 }, () => ({ automationRuns: copied, requestId: 'copied' })),
    );

    // The same push body, with the same messageId, delivered twice in turn and twice at once.
    const push = (name: string, messageId: string) =>
      postPubSubPush(server.url, {
        project: pubsub.project,
        topic: requests.name.split('/').at(-1) as string,
        message: { data: JSON.stringify({ automationRun: name }), messageId },
      });
    const first = await push(posted, 'dup-posted-1');
    const second = await push(posted, 'dup-posted-1');
    const raced1 = await Promise.all([push(raced, 'dup-raced-1'), push(raced, 'dup-raced-1')]);

    // A push subscription delivery that fails once: the first attempt cancels `early`, fails
    // on `failing`, answers 500, and Pub/Sub delivers the same message again.
    deploy.injectFault({ method: 'CancelAutomationRun', code: 'UNAVAILABLE', runName: failing });
    const redeliveredId = await pubsub.publishJson(requests, { automationRuns: [early, failing] });

    const expectations: Expectation[] = [
      ...copiedIds.map((messageId) => ({ messageId, runs: copied })),
      { messageId: 'dup-posted-1', runs: [posted] },
      { messageId: 'dup-raced-1', runs: [raced] },
      { messageId: redeliveredId, runs: [early, failing] },
    ];
    const accounting = await finish(expectations, DUPLICATES);
    const doubles = doubleCancelled(deploy, DUPLICATES);
    recordFigures({
      faults: 1,
      // Four extra copies, the second POST, the second concurrent POST, one redelivery.
      duplicates: 4 + 1 + 1 + 1,
      lost: accounting.lost,
      doubleCancelled: doubles.length,
    });

    expect(accounting.missing).toEqual([]);
    expect(doubles).toEqual([]);
    expect(ledger.invalid).toEqual([]);
    expect([first.status, second.status, ...raced1.map((result) => result.status)]).toEqual([
      204, 204, 204, 204,
    ]);
    for (const name of [...copied, posted, raced, early, failing]) {
      expect(deploy.cancelCount(name)).toBe(1);
    }

    const idOf = (events: AuditEvent[], run: string) => {
      const ids = new Set(
        events.filter((event) => event.automationRun === run).map((e) => e.eventId),
      );
      expect(ids.size).toBe(1);
      return [...ids][0];
    };
    // Copies are different messages: different eventIds for the same run.
    for (const run of copied) {
      const ids = copiedIds.map((messageId) => idOf(ledger.of(messageId), run));
      expect(new Set(ids).size).toBe(copiedIds.length);
    }
    expect(new Set(copied.map((run) => idOf(ledger.of(copiedIds[0] as string), run))).size).toBe(2);
    // Deliveries of one message: the same eventId every time, whatever the outcome.
    const postedEvents = ledger.of('dup-posted-1');
    expect(postedEvents.map((event) => event.outcome)).toEqual(['CANCELLED', 'NOT_CANCELLABLE']);
    idOf(postedEvents, posted);
    const racedEvents = ledger.of('dup-raced-1');
    expect(racedEvents).toHaveLength(2);
    expect(racedEvents.filter((event) => event.outcome === 'CANCELLED')).toHaveLength(1);
    idOf(racedEvents, raced);
    const redelivered = ledger.of(redeliveredId);
    expect(
      redelivered.filter((event) => event.automationRun === early).length,
    ).toBeGreaterThanOrEqual(2);
    idOf(redelivered, early);
    idOf(redelivered, failing);
    expect(nonJsonLogLines(server)).toEqual([]);
  });

  it('audits an open incident that finds no in-flight run', async () => {
    // Every run of the pipeline has finished: the alert has nothing left to cancel, and the
    // audit must still show that the incident was received and handled.
    const quiet = pipelineOf('quiet');
    deploy.seedRun({ name: runOf(quiet, 'done'), state: 'SUCCEEDED', targetId: 'prod' });
    const incident = structuredClone(INCIDENT) as { incident: Record<string, unknown> };
    incident.incident.policy_user_labels = {
      clouddeploy_pipeline: 'quiet',
      clouddeploy_location: 'us-central1',
    };
    const sweepId = await pubsub.publishJson(requests, { pipeline: quiet, reason: 'nothing' });
    const alertId = await pubsub.publishJson(requests, incident);
    const accounting = await finish(
      [
        { messageId: alertId, runs: [] },
        { messageId: sweepId, runs: [] },
      ],
      quiet,
    );
    recordFigures({ lost: accounting.lost });
    expect(accounting.missing).toEqual([]);
    expect(deploy.cancelCount(runOf(quiet, 'done'))).toBe(0);
  });
});
