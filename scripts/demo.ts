import type { AuditEvent } from '../src/audit-event';
import { CloudDeployEmulator } from '../src/emulator/deploy-emulator';
import { FunctionServer } from '../src/emulator/function-server';
import { isPubSubEmulatorUnavailableError, PubSubEmulator } from '../src/emulator/pubsub-emulator';
import { PubSubFixtures, type ReceivedMessage } from '../src/emulator/pubsub-fixtures';

/**
 * The main job, locally: both emulators and the function in the real Functions Framework,
 * fed by a Pub/Sub push subscription. It seeds a pipeline, publishes an alert, a named-run
 * request and a sweep, and prints every audit event the function published.
 */

const PROJECT = 'shop-prod';
const PIPELINE = `projects/${PROJECT}/locations/us-central1/deliveryPipelines/checkout`;
const run = (id: string) => `${PIPELINE}/automationRuns/${id}`;
const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000);

/** What a Cloud Monitoring Pub/Sub channel publishes for an open incident (schema 1.2). */
function openIncident() {
  return {
    version: '1.2',
    incident: {
      incident_id: '0.demo-incident',
      scoping_project_id: PROJECT,
      state: 'open',
      started_at: Math.floor(Date.now() / 1000),
      ended_at: null,
      policy_name: 'checkout 5xx during rollout',
      summary: 'Request count for checkout is above the threshold of 5.000 with a value of 11.300.',
      policy_user_labels: {
        clouddeploy_pipeline: 'checkout',
        clouddeploy_location: 'us-central1',
        clouddeploy_target: 'prod',
      },
      condition_name: '5xx rate above 5/s',
    },
  };
}

interface Step {
  readonly title: string;
  readonly message: unknown;
  /** How many audit events the step's message produces. */
  readonly decisions: number;
}

const steps: Step[] = [
  {
    title: 'Cloud Monitoring alert: checkout 5xx during rollout (target prod)',
    message: openIncident(),
    decisions: 2,
  },
  {
    title: 'Console "send test notification": must never stop production',
    message: { ...openIncident(), version: 'test' },
    decisions: 1,
  },
  {
    title: 'Named runs from an incident bot',
    message: {
      automationRuns: [run('promote-staging-7'), run('advance-prod-3'), run('no-such-run')],
      reason: 'bad canary in staging',
      requestId: 'ticket-4711',
    },
    decisions: 3,
  },
  {
    title: 'A run outside ALLOWED_PIPELINES',
    message: {
      automationRun:
        'projects/billing-prod/locations/us-central1/deliveryPipelines/ledger/automationRuns/r1',
    },
    decisions: 1,
  },
  {
    title: 'Nightly sweep: PENDING runs older than 2 hours',
    message: {
      pipeline: PIPELINE,
      olderThanSeconds: 7200,
      states: ['PENDING'],
      reason: 'nightly cleanup',
    },
    decisions: 2,
  },
  { title: 'A malformed message', message: '{"automationRun": ', decisions: 1 },
];

function seed(deploy: CloudDeployEmulator) {
  deploy.seedRuns([
    {
      name: run('promote-prod-41'),
      state: 'IN_PROGRESS',
      targetId: 'prod',
      automationId: 'promote-to-prod',
      ruleId: 'promote',
      createTime: minutesAgo(4),
    },
    {
      name: run('repair-prod-12'),
      state: 'PENDING',
      targetId: 'prod',
      automationId: 'repair-prod',
      ruleId: 'repair',
      createTime: minutesAgo(2),
    },
    {
      name: run('promote-staging-7'),
      state: 'IN_PROGRESS',
      targetId: 'staging',
      automationId: 'promote-to-staging',
      ruleId: 'promote',
      createTime: minutesAgo(30),
    },
    {
      name: run('advance-prod-3'),
      state: 'SUCCEEDED',
      targetId: 'prod',
      automationId: 'advance-prod',
      ruleId: 'advance',
      createTime: minutesAgo(50),
    },
    {
      name: run('stuck-staging-1'),
      state: 'PENDING',
      targetId: 'staging',
      automationId: 'promote-to-staging',
      ruleId: 'promote',
      createTime: minutesAgo(300),
    },
    {
      name: run('stuck-staging-2'),
      state: 'PENDING',
      targetId: 'staging',
      automationId: 'promote-to-staging',
      ruleId: 'promote',
      createTime: minutesAgo(180),
    },
    {
      name: run('fresh-staging-9'),
      state: 'PENDING',
      targetId: 'staging',
      automationId: 'promote-to-staging',
      ruleId: 'promote',
      createTime: minutesAgo(15),
    },
  ]);
}

const shortRun = (name: string | null) => (name === null ? '-' : (name.split('/').pop() ?? name));

function table(rows: string[][]): string {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function describe(event: AuditEvent): string[] {
  const states =
    event.stateBefore === null
      ? '-'
      : event.stateAfter === event.stateBefore
        ? event.stateBefore
        : `${event.stateBefore} -> ${event.stateAfter}`;
  const detail = event.error?.message ?? event.reason ?? '';
  return [
    event.request.source,
    event.outcome,
    shortRun(event.automationRun),
    states,
    detail.slice(0, 70),
  ];
}

async function main(): Promise<number> {
  let emulator: PubSubEmulator;
  try {
    emulator = await PubSubEmulator.start({ project: PROJECT });
  } catch (error) {
    if (isPubSubEmulatorUnavailableError(error)) {
      console.error(error.message);
      return 1;
    }
    throw error;
  }
  const deploy = await CloudDeployEmulator.start();
  const pubsub = new PubSubFixtures({ host: emulator.host, project: PROJECT });
  let server: FunctionServer | undefined;
  try {
    const requests = await pubsub.createTopic('cancel-requests');
    const audit = await pubsub.createTopic('cancel-audit');
    const audits = await pubsub.createPullSubscription(audit, { name: 'cancel-audit-demo' });
    seed(deploy);
    server = await FunctionServer.start({
      pubsubEmulatorHost: emulator.host,
      cloudDeployEmulatorHost: deploy.host,
      env: {
        AUDIT_TOPIC: audit.name,
        ALLOWED_PIPELINES: `projects/${PROJECT}/locations/*/deliveryPipelines/*`,
        GOOGLE_CLOUD_PROJECT: PROJECT,
      },
    });
    await pubsub.createPushSubscription(requests, server.pushEndpoint(requests.name), {
      name: 'cancel-requests-push',
    });
    console.log(
      `Pub/Sub emulator ${emulator.host}, Cloud Deploy emulator ${deploy.host}, function ${server.url}\n`,
    );

    const rows = [['SOURCE', 'OUTCOME', 'RUN', 'STATE', 'DETAIL']];
    const received: ReceivedMessage[] = [];
    for (const step of steps) {
      const messageId =
        typeof step.message === 'string'
          ? await pubsub.publishRaw(requests, step.message)
          : await pubsub.publishJson(requests, step.message);
      const deadline = Date.now() + 30_000;
      const mine = () =>
        received.filter((message) => (message.data as AuditEvent).request.messageId === messageId);
      while (mine().length < step.decisions && Date.now() < deadline) {
        received.push(...(await pubsub.collect(audits, { count: 100, timeoutMs: 300 })));
      }
      const events = mine().map((message) => message.data as AuditEvent);
      console.log(`- ${step.title}: ${events.length} decision${events.length === 1 ? '' : 's'}`);
      if (events.length < step.decisions) {
        console.error(
          `expected ${step.decisions} audit events for "${step.title}", got ${events.length}`,
        );
        return 1;
      }
      rows.push(...events.map(describe));
    }
    console.log(`\nAudit events on ${audit.name}:\n`);
    console.log(table(rows));
    console.log('\nRuns in Cloud Deploy afterwards:\n');
    console.log(
      table([
        ['RUN', 'TARGET', 'STATE'],
        ...deploy
          .runs(PIPELINE)
          .map((entry) => [shortRun(entry.name), entry.targetId, entry.state]),
      ]),
    );
    return 0;
  } finally {
    await server?.stop();
    await pubsub.cleanup().catch(() => undefined);
    await deploy.stop();
    await emulator.stop();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  },
);
