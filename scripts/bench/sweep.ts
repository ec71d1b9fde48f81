/**
 * One sweep over in-flight runs with latency injected into every Cloud Deploy call, run by
 * the function as deployed in a child process, against the floor that latency allows.
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { DEPLOYED_NODE_OPTIONS } from '../../src/bundle-loader';
import type { BenchEnvironment } from './environment';
import { ownCpuMs } from './process-cpu';
import { median } from './stats';
import type { SweepWorkerResult } from './sweep-worker';

export interface SweepResult {
  readonly concurrency: number;
  readonly runs: number;
  readonly latencyMs: number;
  readonly floorMs: number;
  readonly wallMs: number[];
  readonly medianWallMs: number;
  readonly peakRssMiB: number;
  /** RSS with the clients loaded, before the sweep starts. */
  readonly baseRssMiB: number;
  /** Highest RSS sampled while the measured sweep ran (the line above covers the whole life). */
  readonly sweepPeakRssMiB: number;
  /** CPU the handler's process spent on one sweep. */
  readonly cpuMs: number;
  /** CPU the Cloud Deploy emulator's process (this one) spent on one sweep. */
  readonly emulatorCpuMs: number;
  /** How long the emulator actually held each call it was asked to hold `latencyMs`. */
  readonly heldMeanMs: number;
}

interface SweepOnceResult extends SweepWorkerResult {
  readonly emulatorCpuMs: number;
  readonly heldMeanMs: number;
}

const PIPELINES = 'projects/bench-proj/locations/us-central1/deliveryPipelines';
const LIST_PAGE_SIZE = 1000;
let sweepNumber = 0;
/** Runs in the unmeasured sweep before the measured one. */
const WARM_UP_RUNS = 300;

/** A get and a cancel per run, `concurrency` runs at a time, after the list pages. */
export function sweepFloorMs(runs: number, concurrency: number, latencyMs: number): number {
  const listCalls = Math.max(1, Math.ceil(runs / LIST_PAGE_SIZE));
  return (Math.ceil(runs / concurrency) * 2 + listCalls) * latencyMs;
}

async function sweepOnce(
  environment: BenchEnvironment,
  runs: number,
  concurrency: number,
  latencyMs: number,
): Promise<SweepOnceResult> {
  sweepNumber += 1;
  const pipeline = `${PIPELINES}/sweep-${process.pid}-${sweepNumber}`;
  const warmPipeline = `${pipeline}-warm`;
  const created = new Date(Date.now() - 3_600_000);
  environment.deploy.setLatency(0);
  environment.deploy.seedRuns(
    Array.from({ length: WARM_UP_RUNS }, (_, index) => ({
      name: `${warmPipeline}/automationRuns/warm-${index}`,
      state: 'PENDING' as const,
    })),
  );
  environment.deploy.seedRuns(
    Array.from({ length: runs }, (_, index) => ({
      name: `${pipeline}/automationRuns/run-${index}`,
      state: 'IN_PROGRESS' as const,
      targetId: 'prod',
      createTime: created,
    })),
  );
  const child = fork(join(__dirname, 'sweep-worker.js'), [], {
    env: {
      ...environment.functionEnv,
      PATH: process.env.PATH ?? '',
      MAX_RUNS_PER_EVENT: String(Math.max(runs, WARM_UP_RUNS)),
      RUN_CONCURRENCY: String(concurrency),
      FUNCTION_TIMEOUT_SECONDS: '3600',
      BENCH_PIPELINE: pipeline,
      BENCH_WARM_PIPELINE: warmPipeline,
      // A deployed instance's flags (they size the young generation), unless told otherwise.
      NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS ?? DEPLOYED_NODE_OPTIONS,
    },
    // Decision logs go where a deployed function's go: stdout, here discarded.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  let cpuBefore = 0;
  const result = await new Promise<SweepWorkerResult>((resolve, reject) => {
    child.on('message', (message: SweepWorkerResult | 'ready') => {
      if (message === 'ready') {
        environment.deploy.setLatency(latencyMs);
        environment.deploy.takeDelayStatistics();
        cpuBefore = ownCpuMs();
        child.send('go');
      } else resolve(message);
    });
    child.once('exit', (code) => reject(new Error(`sweep worker exited with ${code}`)));
  });
  const emulatorCpuMs = ownCpuMs() - cpuBefore;
  const held = environment.deploy.takeDelayStatistics();
  environment.deploy.setLatency(0);
  const cancelled = environment.deploy
    .runs(pipeline)
    .filter((run) => run.state === 'CANCELLED').length;
  if (cancelled !== runs) throw new Error(`sweep cancelled ${cancelled} of ${runs} runs`);
  return { ...result, emulatorCpuMs, heldMeanMs: held.meanMs };
}

export async function measureSweep(
  environment: BenchEnvironment,
  options: { runs: number; concurrency: number; latencyMs: number; rounds: number },
): Promise<SweepResult> {
  const results: SweepOnceResult[] = [];
  for (let round = 0; round < options.rounds; round += 1) {
    results.push(
      await sweepOnce(environment, options.runs, options.concurrency, options.latencyMs),
    );
  }
  const wallMs = results.map((result) => result.wallMs);
  return {
    concurrency: options.concurrency,
    runs: options.runs,
    latencyMs: options.latencyMs,
    floorMs: sweepFloorMs(options.runs, options.concurrency, options.latencyMs),
    wallMs,
    medianWallMs: median(wallMs),
    cpuMs: median(results.map((result) => result.cpuMs)),
    emulatorCpuMs: median(results.map((result) => result.emulatorCpuMs)),
    heldMeanMs: median(results.map((result) => result.heldMeanMs)),
    sweepPeakRssMiB: Math.max(...results.map((result) => result.sampledPeakRssBytes)) / 2 ** 20,
    baseRssMiB: median(results.map((result) => result.rssBeforeSweepBytes)) / 2 ** 20,
    peakRssMiB:
      Math.max(
        ...results.map((result) => Math.max(result.maxRssBytes, result.sampledPeakRssBytes)),
      ) /
      2 ** 20,
  };
}
