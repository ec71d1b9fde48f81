/**
 * End to end through the Pub/Sub emulator's push: requests pushed to the function as
 * deployed, which decides and publishes audit events, pushed in turn to a local sink. The
 * ceiling is the emulator's own push rate to an endpoint that only acknowledges.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FunctionServer } from '../../src/emulator/function-server';
import { createPubSubAuditPort } from '../../src/pubsub-audit';
import type { BenchEnvironment } from './environment';
import { median, nowMs, percentile } from './stats';

export interface E2eSide {
  readonly ratePerSecond: number;
  readonly rates: number[];
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
}

export interface E2eResult {
  readonly messages: number;
  readonly ceiling: E2eSide;
  readonly function: E2eSide;
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
        requestId?: string;
        request?: { requestId?: string };
      };
      const key = data.key ?? data.request?.requestId ?? data.requestId;
      if (key !== undefined && !this.arrivals.has(key)) this.arrivals.set(key, at);
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

type Publisher = (key: string) => Promise<unknown>;

async function throughput(sink: PushSink, publish: Publisher, label: string, count: number) {
  const keys = Array.from({ length: count }, (_, index) => `${label}-${index}`);
  const started = nowMs();
  await Promise.all(keys.map((key) => publish(key)));
  const last = await sink.waitFor(keys, 120_000);
  return (count * 1000) / (last - started);
}

async function latencies(sink: PushSink, publish: Publisher, label: string, count: number) {
  const samples: number[] = [];
  for (let index = 0; index < count; index += 1) {
    const key = `${label}-${index}`;
    const started = nowMs();
    await publish(key);
    samples.push((await sink.waitFor([key], 30_000)) - started);
  }
  return samples;
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
  await pubsub.createPushSubscription(auditTopic, `${sink.url}/audit`);
  const server = await FunctionServer.start({
    env: { ...environment.functionEnv, AUDIT_TOPIC: auditTopic.name },
  });
  try {
    await pubsub.createPushSubscription(requestTopic, server.pushEndpoint(requestTopic.name));
    const ceilingPublish: Publisher = (key) => pubsub.publishJson(ackTopic, { key });
    const functionPublish: Publisher = (key) =>
      pubsub.publishJson(requestTopic, {
        automationRun: environment.seedInFlightRun(),
        requestId: key,
        reason: 'bench',
      });
    await latencies(sink, ceilingPublish, 'warm-ceiling', 20);
    await latencies(sink, functionPublish, 'warm-function', 20);
    const ceilingRates: number[] = [];
    const functionRates: number[] = [];
    for (let round = 0; round < options.rounds; round += 1) {
      ceilingRates.push(
        await throughput(sink, ceilingPublish, `ceiling-${round}`, options.messages),
      );
      functionRates.push(
        await throughput(sink, functionPublish, `function-${round}`, options.messages),
      );
    }
    const ceilingLatency = await latencies(
      sink,
      ceilingPublish,
      'lat-ceiling',
      options.latencySamples,
    );
    const functionLatency = await latencies(
      sink,
      functionPublish,
      'lat-function',
      options.latencySamples,
    );
    const publish = await publishLatencies(environment, ackTopic.name, options.latencySamples);
    const side = (rates: number[], samples: number[]): E2eSide => ({
      ratePerSecond: median(rates),
      rates,
      p50Ms: percentile(samples, 0.5),
      p90Ms: percentile(samples, 0.9),
      p99Ms: percentile(samples, 0.99),
    });
    return {
      messages: options.messages,
      ceiling: side(ceilingRates, ceilingLatency),
      function: side(functionRates, functionLatency),
      publishP50Ms: percentile(publish, 0.5),
      publishP90Ms: percentile(publish, 0.9),
    };
  } finally {
    await server.stop();
    await sink.stop();
  }
}
