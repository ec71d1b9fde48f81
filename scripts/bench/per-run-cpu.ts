/**
 * CPU time the handler spends per decided run, Cloud Deploy's own time left out: once with
 * in-memory ports (only our code runs), once with the real adapter against the in-process
 * emulator, less the CPU of the same calls made with the bare client, measured alternately.
 */
import type { v1 } from '@google-cloud/deploy';
import type { AutomationRun } from '../../src/automation-run';
import { createCloudDeployPort, splitEmulatorHost } from '../../src/cloud-deploy';
import { settleWithConcurrency } from '../../src/concurrency';
import { parseConfig } from '../../src/config';
import type { CloudDeployEmulator } from '../../src/emulator/deploy-emulator';
import { createCancelHandler } from '../../src/handler';
import { createLogger } from '../../src/logger';
import { systemClock } from '../../src/ports';
import { ALLOWED_PIPELINES } from './environment';
import { messagePublished } from './events';
import { CountingAudit, MemoryDeploy } from './fakes';
import { median } from './stats';

export interface PerRunCpuResult {
  /** In-memory ports: the whole handler, our code only. */
  readonly fakesMs: number;
  /** Real adapter and emulator, less the bare client doing the same calls. */
  readonly adapterMs: number;
  readonly adapterRawMs: number;
  readonly adapterTotalMs: number;
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

function config(concurrency: number) {
  return parseConfig({
    AUDIT_TOPIC: 'projects/local-project/topics/bench-audit',
    ALLOWED_PIPELINES,
    MAX_RUNS_PER_EVENT: '1000',
    FUNCTION_TIMEOUT_SECONDS: '540',
    RUN_CONCURRENCY: String(concurrency),
  });
}

/** Decisions are logged as deployed, but into a sink: the JSON is built, no I/O is timed. */
const silentLogger = () => createLogger(() => undefined);

function inFlightRuns(pipeline: string, count: number): AutomationRun[] {
  const created = new Date(Date.now() - 3_600_000);
  return Array.from({ length: count }, (_, index) => ({
    name: `${pipeline}/automationRuns/run-${index}`,
    state: 'IN_PROGRESS' as const,
    createTime: created,
    updateTime: created,
    targetId: 'prod',
    automationId: 'promote-to-prod',
    ruleId: 'promote',
  })) satisfies AutomationRun[];
}

async function fakesOnce(pipeline: string, runs: number): Promise<number> {
  const deploy = new MemoryDeploy();
  deploy.seed(inFlightRuns(pipeline, runs));
  const audit = new CountingAudit();
  const handler = createCancelHandler({
    config: config(10),
    deploy,
    audit,
    clock: systemClock,
    logger: silentLogger(),
  });
  const event = messagePublished({ pipeline, reason: 'bench' });
  const started = process.cpuUsage();
  await handler(event);
  const used = cpuMs(started);
  if (audit.published !== runs) throw new Error(`expected ${runs} audits, got ${audit.published}`);
  return used / runs;
}

export async function measurePerRunCpu(
  emulator: CloudDeployEmulator,
  rounds: number,
): Promise<PerRunCpuResult> {
  const base = 'projects/bench-proj/locations/us-central1/deliveryPipelines';
  // Warm-up: compile the hot paths before anything is timed.
  for (let round = 0; round < 3; round += 1) await fakesOnce(`${base}/warm`, 1000);
  const fakes: number[] = [];
  for (let round = 0; round < rounds; round += 1)
    fakes.push(await fakesOnce(`${base}/fakes`, 1000));

  emulator.setLatency(0);
  const port = createCloudDeployPort({ emulatorHost: emulator.host });
  const deploy = require('@google-cloud/deploy') as typeof import('@google-cloud/deploy');
  const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
  const raw: InstanceType<typeof v1.CloudDeployClient> = new deploy.v1.CloudDeployClient({
    ...splitEmulatorHost(emulator.host),
    fallback: false,
    sslCreds: grpc.credentials.createInsecure(),
    universeDomain: 'googleapis.com',
  });
  const runs = 500;
  let pipelineNumber = 0;
  const seed = () => {
    pipelineNumber += 1;
    const pipeline = `${base}/cpu-${pipelineNumber}`;
    emulator.seedRuns(
      inFlightRuns(pipeline, runs).map((run) => ({
        name: run.name,
        state: run.state,
        targetId: 'prod',
        createTime: run.createTime,
      })),
    );
    return pipeline;
  };
  const handlerRound = async () => {
    const pipeline = seed();
    const audit = new CountingAudit();
    const handler = createCancelHandler({
      config: config(10),
      deploy: port,
      audit,
      clock: systemClock,
      logger: silentLogger(),
    });
    const event = messagePublished({ pipeline, reason: 'bench' });
    const started = process.cpuUsage();
    await handler(event);
    const used = cpuMs(started);
    if (audit.published !== runs)
      throw new Error(`expected ${runs} audits, got ${audit.published}`);
    return used / runs;
  };
  const rawRound = async () => {
    const pipeline = seed();
    const started = process.cpuUsage();
    const [listed] = await raw.listAutomationRuns(
      { parent: pipeline, pageSize: 1000 },
      { autoPaginate: false },
    );
    await settleWithConcurrency(listed, 10, async (run) => {
      await raw.getAutomationRun({ name: run.name ?? '' });
      await raw.cancelAutomationRun({ name: run.name ?? '' });
    });
    const used = cpuMs(started);
    if (listed.length !== runs) throw new Error(`expected ${runs} listed, got ${listed.length}`);
    return used / runs;
  };
  await handlerRound();
  await rawRound();
  const totals: number[] = [];
  const raws: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    totals.push(await handlerRound());
    raws.push(await rawRound());
  }
  await port.close();
  await raw.close();
  const adapterTotalMs = median(totals);
  const adapterRawMs = median(raws);
  return {
    fakesMs: median(fakes),
    adapterMs: Math.max(0, adapterTotalMs - adapterRawMs),
    adapterRawMs,
    adapterTotalMs,
  };
}
