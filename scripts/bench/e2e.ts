/**
 * End to end through the Pub/Sub emulator's push: requests pushed to the function as
 * deployed, which decides and publishes an audit event for each. A decision counts as done
 * when Pub/Sub accepted its audit event: the event's publish time. The ceiling is the
 * emulator's own push rate to an endpoint that only acknowledges.
 *
 * Every process of the pipeline shares this machine's cores, so the CPU each spends on a
 * message is measured too: their sum bounds the rate whatever the function does.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import type { Subscription } from '@google-cloud/pubsub';
import { FunctionServer } from '../../src/emulator/function-server';
import { createPubSubAuditPort } from '../../src/pubsub-audit';
import type { BenchEnvironment } from './environment';
import { groupCpuMs, ownCpuMs, processCpuMs } from './process-cpu';
import { median, nowMs, percentile } from './stats';

export interface E2eSide {
  readonly ratePerSecond: number;
  readonly rates: number[];
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  /** CPU milliseconds a message costs each process, median over the rounds. */
  readonly cpuPerMessage: CpuPerMessage;
}

export interface CpuPerMessage {
  /** The function's Functions Framework process. */
  readonly function: number;
  /** The Pub/Sub emulator (its JVM). */
  readonly pubsubEmulator: number;
  /** This process: the publisher of the requests, the Cloud Deploy emulator, the push sink. */
  readonly driver: number;
}

export interface E2eResult {
  readonly messages: number;
  readonly cores: number;
  readonly ceiling: E2eSide;
  readonly function: E2eSide;
  /** The most messages a second the cores could carry at the CPU a message costs. */
  readonly cpuBoundPerSecond: number;
  /** One audit Publish, awaited before the next: what every message's decision waits on. */
  readonly publishP50Ms: number;
  readonly publishP90Ms: number;
}

async function publishLatencies(
  environment: BenchEnvironment,
  topic: string,
  count: number,
): Promise<number[]> {
  const port = createPubSubAuditPort({ topic, emulatorHost: environment.pubsubEmulator.host });
  const event = {
    eventId: 'bench',
    time: new Date().toISOString(),
    outcome: 'CANCELLED',
    automationRun: null,
    pipeline: null,
    request: { source: 'REQUEST' },
  } as unknown as Parameters<typeof port.publishAudit>[0];
  const samples: number[] = [];
  try {
    for (let index = 0; index < count + 20; index += 1) {
      const started = nowMs();
      await port.publishAudit(event);
      if (index >= 20) samples.push(nowMs() - started);
    }
  } finally {
    await port.close();
  }
  return samples;
}

/** Acknowledges every push at once and notes when each key first arrived. */
class PushSink {
  readonly arrivals = new Map<string, number>();
  readonly #waiters = new Set<() => void>();
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(): Promise<PushSink> {
    let sink: PushSink | undefined;
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        response.writeHead(204).end();
        sink?.record(Buffer.concat(chunks));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    sink = new PushSink(server);
    return sink;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  record(body: Buffer): void {
    const at = nowMs();
    try {
      const push = JSON.parse(body.toString('utf8')) as { message?: { data?: string } };
      const data = JSON.parse(Buffer.from(push.message?.data ?? '', 'base64').toString('utf8')) as {
        key?: string;
      };
      if (data.key !== undefined && !this.arrivals.has(data.key)) this.arrivals.set(data.key, at);
    } catch {
      return;
    }
    for (const wake of [...this.#waiters]) wake();
  }

  /** Resolves with the arrival time of the last of `keys`. */
  async waitFor(keys: readonly string[], timeoutMs: number): Promise<number> {
    const deadline = nowMs() + timeoutMs;
    for (;;) {
      const missing = keys.filter((key) => !this.arrivals.has(key));
      if (missing.length === 0) return Math.max(...keys.map((key) => this.arrivals.get(key) ?? 0));
      const remaining = deadline - nowMs();
      if (remaining <= 0)
        throw new Error(`${missing.length} of ${keys.length} pushes never arrived`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(wake, Math.min(remaining, 1000));
        const waiters = this.#waiters;
        function wake(): void {
          clearTimeout(timer);
          waiters.delete(wake);
          resolve();
        }
        waiters.add(wake);
      });
    }
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** CPU milliseconds used so far by each process of the pipeline. */
function cpuNow(environment: BenchEnvironment, server: FunctionServer | undefined) {
  return {
    function: server === undefined ? 0 : (processCpuMs(server.pid) ?? Number.NaN),
    pubsubEmulator: groupCpuMs(environment.pubsubEmulator.processGroup) ?? Number.NaN,
    driver: ownCpuMs(),
  };
}

function cpuSince(before: CpuPerMessage, after: CpuPerMessage, messages: number): CpuPerMessage {
  return {
    function: (after.function - before.function) / messages,
    pubsubEmulator: (after.pubsubEmulator - before.pubsubEmulator) / messages,
    driver: (after.driver - before.driver) / messages,
  };
}

function medianCpu(samples: readonly CpuPerMessage[]): CpuPerMessage {
  return {
    function: median(samples.map((sample) => sample.function)),
    pubsubEmulator: median(samples.map((sample) => sample.pubsubEmulator)),
    driver: median(samples.map((sample) => sample.driver)),
  };
}

const totalCpu = (cpu: CpuPerMessage) => cpu.function + cpu.pubsubEmulator + cpu.driver;

/** The request ids of the decisions the server has logged, read on from `from`. */
async function waitForDecisions(
  server: FunctionServer,
  keys: ReadonlySet<string>,
  from: number,
  timeoutMs: number,
): Promise<number> {
  let seen = 0;
  let index = from;
  const deadline = Date.now() + timeoutMs;
  while (seen < keys.size) {
    for (; index < server.logs.length; index += 1) {
      const request = server.logs[index]?.json?.request as { requestId?: unknown } | undefined;
      if (typeof request?.requestId === 'string' && keys.has(request.requestId)) seen += 1;
    }
    if (Date.now() > deadline) throw new Error(`${keys.size - seen} decisions never logged`);
    if (seen < keys.size) await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return index;
}

/** Pulls the audit events of `keys`; resolves with the latest publish time (epoch ms). */
async function lastAuditTime(
  environment: BenchEnvironment,
  audits: Subscription,
  keys: ReadonlySet<string>,
): Promise<number> {
  const received = await environment.pubsub.collect(audits, {
    count: keys.size,
    timeoutMs: 60_000,
    filter: (message) => {
      const request = (message.data as { request?: { requestId?: unknown } } | undefined)?.request;
      return typeof request?.requestId === 'string' && keys.has(request.requestId);
    },
  });
  if (received.length < keys.size) {
    throw new Error(`${keys.size - received.length} audit events never arrived`);
  }
  return Math.max(...received.map((message) => Date.parse(message.publishTime ?? '')));
}

export async function measureEndToEnd(
  environment: BenchEnvironment,
  options: { messages: number; latencySamples: number; rounds: number },
): Promise<E2eResult> {
  const { pubsub, deploy } = environment;
  deploy.setLatency(0);
  const sink = await PushSink.start();
  const ackTopic = await pubsub.createTopic(pubsub.uniqueName('ack'));
  await pubsub.createPushSubscription(ackTopic, `${sink.url}/ack`);
  const requestTopic = await pubsub.createTopic(pubsub.uniqueName('requests'));
  const auditTopic = await pubsub.createTopic(pubsub.uniqueName('e2e-audit'));
  const audits = await pubsub.createPullSubscription(auditTopic);
  const server = await FunctionServer.start({
    env: { ...environment.functionEnv, AUDIT_TOPIC: auditTopic.name },
  });
  let logIndex = 0;
  let sequence = 0;
  const publishRequest = (key: string) =>
    pubsub.publishJson(requestTopic, {
      automationRun: environment.seedInFlightRun(),
      requestId: key,
      reason: 'bench',
    });
  const keysOf = (label: string, count: number) =>
    Array.from({ length: count }, (_, index) => `${label}-${index}`);

  /** Messages a second from the first publish to the last audit Pub/Sub accepted. */
  const functionRound = async (label: string, count: number) => {
    const keys = keysOf(label, count);
    const before = cpuNow(environment, server);
    const started = Date.now();
    await Promise.all(keys.map(publishRequest));
    logIndex = await waitForDecisions(server, new Set(keys), logIndex, 120_000);
    const cpu = cpuSince(before, cpuNow(environment, server), count);
    const last = await lastAuditTime(environment, audits, new Set(keys));
    return { rate: (count * 1000) / (last - started), cpu };
  };
  const ceilingRound = async (label: string, count: number) => {
    const keys = keysOf(label, count);
    const before = cpuNow(environment, undefined);
    const started = nowMs();
    await Promise.all(keys.map((key) => pubsub.publishJson(ackTopic, { key })));
    const last = await sink.waitFor(keys, 120_000);
    return {
      rate: (count * 1000) / (last - started),
      cpu: cpuSince(before, cpuNow(environment, undefined), count),
    };
  };

  try {
    await pubsub.createPushSubscription(requestTopic, server.pushEndpoint(requestTopic.name));
    // Warm both paths, the function's clients and the emulator's subscriptions.
    await ceilingRound('warm-ceiling', 50);
    await functionRound('warm-function', 50);
    const ceiling: { rate: number; cpu: CpuPerMessage }[] = [];
    const functionSide: { rate: number; cpu: CpuPerMessage }[] = [];
    for (let round = 0; round < options.rounds; round += 1) {
      ceiling.push(await ceilingRound(`ceiling-${round}`, options.messages));
      functionSide.push(await functionRound(`function-${round}`, options.messages));
    }

    // One message at a time: publish to the sink's arrival, and publish to the audit's time.
    const ceilingLatency: number[] = [];
    for (let index = 0; index < options.latencySamples; index += 1) {
      const key = `lat-ceiling-${index}`;
      const started = nowMs();
      await pubsub.publishJson(ackTopic, { key });
      ceilingLatency.push((await sink.waitFor([key], 30_000)) - started);
    }
    const functionLatency: number[] = [];
    for (let index = 0; index < options.latencySamples; index += 1) {
      sequence += 1;
      const key = `lat-function-${sequence}`;
      const started = Date.now();
      await publishRequest(key);
      functionLatency.push((await lastAuditTime(environment, audits, new Set([key]))) - started);
    }
    const publish = await publishLatencies(environment, ackTopic.name, options.latencySamples);
    const side = (
      rounds: readonly { rate: number; cpu: CpuPerMessage }[],
      samples: number[],
    ): E2eSide => ({
      ratePerSecond: median(rounds.map((round) => round.rate)),
      rates: rounds.map((round) => round.rate),
      p50Ms: percentile(samples, 0.5),
      p90Ms: percentile(samples, 0.9),
      p99Ms: percentile(samples, 0.99),
      cpuPerMessage: medianCpu(rounds.map((round) => round.cpu)),
    });
    const functionResult = side(functionSide, functionLatency);
    const cores = cpus().length;
    return {
      messages: options.messages,
      cores,
      ceiling: side(ceiling, ceilingLatency),
      function: functionResult,
      cpuBoundPerSecond: (cores * 1000) / totalCpu(functionResult.cpuPerMessage),
      publishP50Ms: percentile(publish, 0.5),
      publishP90Ms: percentile(publish, 0.9),
    };
  } finally {
    await server.stop();
    await sink.stop();
  }
}
