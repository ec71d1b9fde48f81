/**
 * Runs in its own process, so its peak RSS is the handler's alone: loads the deployed build
 * (dist/function, real adapters, logs to stdout) as an instance does, runs one small sweep to
 * load the clients, then the measured sweep, and reports through the IPC channel.
 */
import { join } from 'node:path';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { getFunction } from '@google-cloud/functions-framework/testing';
import { loadBundle } from '../../src/bundle-loader';
import { messagePublished } from './events';

const DEPLOYED = join(__dirname, '..', '..', 'function');

export interface SweepWorkerResult {
  readonly kind: 'result';
  readonly wallMs: number;
  /** CPU the worker spent on the measured sweep. */
  readonly cpuMs: number;
  /** Highest RSS sampled during the measured sweep. */
  readonly sampledPeakRssBytes: number;
  /** RSS once the clients are loaded, just before the measured sweep. */
  readonly rssBeforeSweepBytes: number;
  /** The kernel's high-water mark over the whole process life. */
  readonly maxRssBytes: number;
}

async function main(): Promise<void> {
  const warmPipeline = process.env.BENCH_WARM_PIPELINE ?? '';
  const pipeline = process.env.BENCH_PIPELINE ?? '';
  loadBundle(DEPLOYED);
  const handler = getFunction('cancelAutomationRuns') as (
    event: CloudEvent<unknown>,
  ) => Promise<void>;
  // A warm-up sweep loads the clients and compiles the hot paths, as on an instance that
  // has served before; the measured sweep then sees steady-state code.
  await handler(messagePublished({ pipeline: warmPipeline, reason: 'warm-up' }));
  // The parent injects the latency between the two sweeps, then says go.
  await new Promise<void>((resolve) => {
    process.once('message', () => resolve());
    process.send?.('ready');
  });
  const rssBeforeSweepBytes = process.memoryUsage.rss();
  let peak = rssBeforeSweepBytes;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await handler(messagePublished({ pipeline, reason: 'bench sweep' }));
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage.rss());
  const result: SweepWorkerResult = {
    kind: 'result',
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    sampledPeakRssBytes: peak,
    rssBeforeSweepBytes,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  };
  process.send?.(result, () => process.exit(0));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
