import type { Topic } from '@google-cloud/pubsub';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CloudDeployEmulator } from '../../src/emulator/deploy-emulator';
import { FunctionServer } from '../../src/emulator/function-server';
import { PubSubEmulator } from '../../src/emulator/pubsub-emulator';
import { PubSubFixtures } from '../../src/emulator/pubsub-fixtures';
import { describeWithPubSubEmulator, requirePubSubEmulator } from '../support/emulator-env';
import { recordFigures } from './support/figures';
import {
  AuditLedger,
  doubleCancelled,
  type Expectation,
  functionEnv,
  nonJsonLogLines,
  pipelineOf,
  runOf,
  sleep,
  waitForQuiet,
} from './support/stack';

/**
 * The audit topic goes away mid-stream. Requests arrive through the shared Pub/Sub emulator;
 * the function publishes its audit to a second emulator, which is stopped while requests keep
 * coming and then started again. The function must answer 500 meanwhile (so Pub/Sub
 * redelivers) and, once the audit topic is back, every decision must be audited.
 */

const AUDIT_TOPIC = 'outage-audit';
const AUDIT_PULL = 'outage-audit-pull';
const PIPELINE = pipelineOf('outage');

describeWithPubSubEmulator('the audit publish failing', () => {
  let deploy: CloudDeployEmulator;
  let pubsub: PubSubFixtures;
  let auditEmulator: PubSubEmulator;
  let auditFixtures: PubSubFixtures;
  let requests: Topic;
  let ledger: AuditLedger;
  let server: FunctionServer;

  async function createAuditSide(): Promise<void> {
    auditFixtures = new PubSubFixtures(auditEmulator);
    const topic = await auditFixtures.createTopic(AUDIT_TOPIC);
    const subscription = await auditFixtures.createPullSubscription(topic, { name: AUDIT_PULL });
    if (ledger === undefined) ledger = new AuditLedger(auditFixtures, subscription);
    else ledger.useSource(auditFixtures, subscription);
  }

  beforeAll(async () => {
    const address = requirePubSubEmulator();
    pubsub = new PubSubFixtures(address);
    auditEmulator = await PubSubEmulator.start({ project: address.project });
    await createAuditSide();
    deploy = await CloudDeployEmulator.start();
    requests = await pubsub.createTopic(pubsub.uniqueName('outage-requests'));
    server = await FunctionServer.start({
      pubsubEmulatorHost: auditEmulator.host,
      cloudDeployEmulatorHost: deploy.host,
      env: functionEnv(`projects/${address.project}/topics/${AUDIT_TOPIC}`),
    });
    await pubsub.createPushSubscription(requests, server.pushEndpoint(requests.name), {
      ackDeadlineSeconds: 60,
      minimumBackoffSeconds: 1,
      maximumBackoffSeconds: 2,
    });
  });

  afterAll(async () => {
    await server?.stop();
    await pubsub?.cleanup();
    await auditFixtures?.cleanup();
    await auditEmulator?.stop();
    await deploy?.stop();
  });

  /** Seeds the runs of one request and publishes it. */
  async function send(kind: 'named' | 'sweep', label: string): Promise<Expectation> {
    const pipeline = kind === 'sweep' ? `${PIPELINE}-${label}` : PIPELINE;
    const runs =
      kind === 'sweep'
        ? [0, 1, 2].map((index) => runOf(pipeline, `${label}-${index}`))
        : [runOf(pipeline, label)];
    for (const name of runs) deploy.seedRun({ name, state: 'IN_PROGRESS' });
    const request =
      kind === 'sweep'
        ? { pipeline, reason: 'outage sweep', requestId: label }
        : { automationRun: runs[0], reason: 'outage drill', requestId: label };
    return { messageId: await pubsub.publishJson(requests, request), runs };
  }

  it('audits every decision once the audit topic is back', async () => {
    const before = await Promise.all(
      ['before-0', 'before-1', 'before-2'].map((label) => send('named', label)),
    );
    const beforeAccounting = await ledger.settle(before, 60_000);
    expect(beforeAccounting.missing).toEqual([]);

    await auditEmulator.stopProcess();
    const retriesBefore = server.logs.length;
    const during = [
      ...(await Promise.all(
        Array.from({ length: 6 }, (_, index) => send('named', `during-${index}`)),
      )),
      await send('sweep', 'sweep-a'),
    ];
    const duringRuns = during.flatMap((expectation) => expectation.runs);
    // Each delivery now waits out the publish deadline and answers 500; Pub/Sub redelivers.
    const auditRetries = () =>
      server.logs
        .slice(retriesBefore)
        .filter((line) =>
          /^retrying: \d+ audit events? not published/.test(String(line.json?.message)),
        ).length;
    const cancelledDuringOutage = () =>
      duringRuns.filter((name) => deploy.getRun(name)?.state === 'CANCELLED');
    for (
      let waited = 0;
      waited < 90_000 && (auditRetries() < 2 || cancelledDuringOutage().length < 2);
      waited += 200
    ) {
      await sleep(200);
    }
    // The function went on deciding and cancelling although nothing could be audited...
    expect(cancelledDuringOutage().length).toBeGreaterThanOrEqual(2);
    // ...and failed those deliveries, so that Pub/Sub delivers them again.
    expect(auditRetries()).toBeGreaterThanOrEqual(2);
    const unauditedCancels = cancelledDuringOutage();

    await auditEmulator.startAgain();
    // The restarted emulator holds nothing: the topic comes back under its old name, and the
    // pull subscription only sees what is published from now on.
    auditFixtures.forgetResources();
    await auditFixtures.cleanup();
    await createAuditSide();

    const after = [await send('named', 'after-0')];
    const accounting = await ledger.settle([...during, ...after], 180_000);
    await waitForQuiet(deploy, 4_000, 90_000);
    await ledger.drain(1_000, 10_000);

    const doubles = doubleCancelled(deploy);
    recordFigures({
      faults: 1,
      // Deliveries answered 500 during the outage, each delivered again later.
      duplicates: auditRetries(),
      lost: beforeAccounting.lost + accounting.lost,
      doubleCancelled: doubles.length,
    });

    expect(accounting.missing).toEqual([]);
    expect(doubles).toEqual([]);
    expect(ledger.invalid).toEqual([]);
    for (const name of [...duringRuns, ...after.flatMap((expectation) => expectation.runs)]) {
      expect(deploy.cancelCount(name)).toBe(1);
    }
    // A run cancelled while the audit was down is audited by the redelivery.
    for (const name of unauditedCancels) {
      expect(ledger.events.some((event) => event.automationRun === name)).toBe(true);
    }
    for (const { messageId, runs } of during) {
      for (const event of ledger.of(messageId)) {
        expect(runs).toContain(event.automationRun);
        // The retry finds the run it cancelled before: never a second cancel.
        expect(['CANCELLED', 'NOT_CANCELLABLE']).toContain(event.outcome);
      }
    }
    expect(nonJsonLogLines(server)).toEqual([]);
  });
});
