import type { Subscription, Topic } from '@google-cloud/pubsub';
import type { AuditEvent } from '../../../src/audit-event';
import { auditEventSchema } from '../../../src/audit-event';
import { CloudDeployEmulator } from '../../../src/emulator/deploy-emulator';
import { type FunctionLogLine, FunctionServer } from '../../../src/emulator/function-server';
import { PubSubFixtures, type ReceivedMessage } from '../../../src/emulator/pubsub-fixtures';
import {
  isAllowedPipeline,
  PIPELINE_NAME_PATTERN,
  PipelinePattern,
  RUN_NAME_PATTERN,
} from '../../../src/resource-names';
import { requirePubSubEmulator } from '../../support/emulator-env';

/** The pipelines every reliability stack allows; anything else must never reach Cloud Deploy. */
export const ALLOWED_PIPELINES = [
  'projects/shop-prod/locations/us-central1/deliveryPipelines/*',
  'projects/my-proj/locations/us-central1/deliveryPipelines/web',
];
export const ALLOWED_PATTERNS = ALLOWED_PIPELINES.map(
  (pattern) => PipelinePattern.parse(pattern) as PipelinePattern,
);

export const pipelineOf = (id: string, project = 'shop-prod', location = 'us-central1') =>
  `projects/${project}/locations/${location}/deliveryPipelines/${id}`;
export const runOf = (pipeline: string, id: string) => `${pipeline}/automationRuns/${id}`;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What one request message must end with: audit events, and a decision for each of `runs`. */
export interface Expectation {
  readonly messageId: string;
  readonly runs: readonly string[];
}

/**
 * Every audit message pulled from a subscription, validated on arrival. The source can be
 * replaced, for when the emulator holding the audit topic is restarted.
 */
export class AuditLedger {
  readonly received: ReceivedMessage[] = [];
  /** Messages that failed the audit schema or whose attributes disagree with the data. */
  readonly invalid: { message: ReceivedMessage; why: string }[] = [];
  readonly #byMessage = new Map<string, AuditEvent[]>();

  constructor(
    private fixtures: PubSubFixtures,
    private subscription: Subscription | string,
  ) {}

  useSource(fixtures: PubSubFixtures, subscription: Subscription | string): void {
    this.fixtures = fixtures;
    this.subscription = subscription;
  }

  /** Audit events of one request message, in arrival order. */
  of(messageId: string): AuditEvent[] {
    return this.#byMessage.get(messageId) ?? [];
  }

  get events(): AuditEvent[] {
    return [...this.#byMessage.values()].flat();
  }

  /** Pulls once (waiting at most `timeoutMs` for something) and files what arrived. */
  async pull(timeoutMs = 500): Promise<number> {
    const batch = await this.fixtures.collect(this.subscription, { count: 100_000, timeoutMs });
    for (const message of batch) this.#file(message);
    return batch.length;
  }

  /** Pulls until `done()` holds or the time is up; returns whether it held. */
  async waitUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (done()) return true;
      if (Date.now() >= deadline) return false;
      await this.pull(Math.min(500, Math.max(50, deadline - Date.now())));
    }
  }

  /** Waits until every expectation is met (or the time is up) and returns what is missing. */
  async settle(expectations: readonly Expectation[], timeoutMs: number): Promise<Accounting> {
    await this.waitUntil(() => this.account(expectations).lost === 0, timeoutMs);
    return this.account(expectations);
  }

  /** Pulls until nothing has arrived for `quietMs` (at most `timeoutMs`). */
  async drain(quietMs: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let quietSince = Date.now();
    while (Date.now() - quietSince < quietMs && Date.now() < deadline) {
      if ((await this.pull(Math.min(quietMs, 500))) > 0) quietSince = Date.now();
    }
  }

  /** A message with no audit event is one lost decision; so is each run it never decided. */
  account(expectations: readonly Expectation[]): Accounting {
    const missing: string[] = [];
    for (const { messageId, runs } of expectations) {
      const events = this.of(messageId);
      if (events.length === 0) missing.push(`message ${messageId}: no audit event`);
      const decided = new Set(events.map((event) => event.automationRun));
      for (const run of runs) {
        if (!decided.has(run)) missing.push(`message ${messageId}: ${run} not decided`);
      }
    }
    return { lost: missing.length, missing };
  }

  #file(message: ReceivedMessage): void {
    this.received.push(message);
    const parsed = auditEventSchema.safeParse(message.data);
    if (!parsed.success) {
      this.invalid.push({ message, why: parsed.error.message });
      return;
    }
    const event = parsed.data;
    const { attributes } = message;
    if (
      attributes.outcome !== event.outcome ||
      attributes.source !== event.request.source ||
      attributes.pipeline !== (event.pipeline ?? undefined)
    ) {
      this.invalid.push({ message, why: `attributes ${JSON.stringify(attributes)} disagree` });
    }
    const key = event.request.messageId ?? '';
    const list = this.#byMessage.get(key) ?? [];
    list.push(event);
    this.#byMessage.set(key, list);
  }
}

export interface Accounting {
  readonly lost: number;
  readonly missing: readonly string[];
}

/** Runs (of one pipeline, or all) the emulator cancelled more than once. */
export function doubleCancelled(deploy: CloudDeployEmulator, pipeline?: string): string[] {
  return deploy
    .runs(pipeline)
    .filter((run) => deploy.cancelCount(run.name) > 1)
    .map((run) => run.name);
}

/** Calls that named something other than a valid run (or, for List, pipeline) of an allowed pipeline. */
export function forbiddenCalls(calls: readonly { method: string; name: string }[]): string[] {
  return calls
    .filter((call) => {
      if (call.method === 'ListAutomationRuns' || call.method === 'listRuns') {
        return !(
          PIPELINE_NAME_PATTERN.test(call.name) && isAllowedPipeline(call.name, ALLOWED_PATTERNS)
        );
      }
      const match = RUN_NAME_PATTERN.exec(call.name);
      return !(match?.[1] !== undefined && isAllowedPipeline(match[1], ALLOWED_PATTERNS));
    })
    .map((call) => `${call.method} ${JSON.stringify(call.name)}`);
}

/**
 * Waits until Cloud Deploy has seen no call (naming `prefix`, if given) for `quietMs`:
 * redeliveries have died down.
 */
export async function waitForQuiet(
  deploy: CloudDeployEmulator,
  quietMs: number,
  timeoutMs: number,
  prefix = '',
): Promise<void> {
  const count = () => deploy.calls.filter((call) => call.name.startsWith(prefix)).length;
  const deadline = Date.now() + timeoutMs;
  let seen = count();
  let quietSince = Date.now();
  while (Date.now() - quietSince < quietMs && Date.now() < deadline) {
    await sleep(200);
    if (count() !== seen) {
      seen = count();
      quietSince = Date.now();
    }
  }
}

/** The Functions Framework's start-up banner: the only stdout lines that are not JSON. */
const BANNER = [
  /^Serving function\.\.\.$/,
  /^Function: \S+$/,
  /^Signature type: \S+$/,
  /^URL: \S+$/,
];

/** Stdout lines of the function that are neither the banner nor one JSON object. */
export function nonJsonLogLines(server: FunctionServer): FunctionLogLine[] {
  return server.logs.filter(
    (line) => line.json === undefined && !BANNER.some((pattern) => pattern.test(line.text)),
  );
}

/** Publishes every value (at most `parallel` at a time) and returns the message ids in order. */
export async function publishAll(
  pubsub: PubSubFixtures,
  topic: Topic,
  values: readonly unknown[],
  parallel = 100,
): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < values.length; start += parallel) {
    const chunk = values.slice(start, start + parallel);
    ids.push(...(await Promise.all(chunk.map((value) => pubsub.publishJson(topic, value)))));
  }
  return ids;
}

/** The environment every reliability function server gets, plus `extra`. */
export function functionEnv(auditTopic: string, extra: Record<string, string> = {}) {
  return {
    AUDIT_TOPIC: auditTopic,
    ALLOWED_PIPELINES: ALLOWED_PIPELINES.join(','),
    GOOGLE_CLOUD_PROJECT: 'local-project',
    FUNCTION_TIMEOUT_SECONDS: '300',
    ...extra,
  };
}

/** The shared emulator, a Cloud Deploy emulator, and the function fed by a push subscription. */
export interface PushStack {
  readonly deploy: CloudDeployEmulator;
  readonly pubsub: PubSubFixtures;
  readonly requests: Topic;
  readonly ledger: AuditLedger;
  readonly server: FunctionServer;
  stop(): Promise<void>;
}

/** Starts a {@link PushStack} whose topics carry `label`; `env` adds to {@link functionEnv}. */
export async function startPushStack(options: {
  readonly label: string;
  readonly env?: Record<string, string>;
  readonly deployLatencyMs?: number;
}): Promise<PushStack> {
  const address = requirePubSubEmulator();
  const pubsub = new PubSubFixtures(address);
  const deploy = await CloudDeployEmulator.start(
    options.deployLatencyMs === undefined ? {} : { latencyMs: options.deployLatencyMs },
  );
  const requests = await pubsub.createTopic(pubsub.uniqueName(`${options.label}-requests`));
  const audit = await pubsub.createTopic(pubsub.uniqueName(`${options.label}-audit`));
  const ledger = new AuditLedger(pubsub, await pubsub.createPullSubscription(audit));
  const server = await FunctionServer.start({
    pubsubEmulatorHost: address.host,
    cloudDeployEmulatorHost: deploy.host,
    env: functionEnv(audit.name, options.env),
  });
  await pubsub.createPushSubscription(requests, server.pushEndpoint(requests.name), {
    ackDeadlineSeconds: 60,
    minimumBackoffSeconds: 1,
    maximumBackoffSeconds: 2,
  });
  return {
    deploy,
    pubsub,
    requests,
    ledger,
    server,
    async stop() {
      await server.stop();
      await pubsub.cleanup();
      await deploy.stop();
    },
  };
}
