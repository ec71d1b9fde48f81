/**
 * `npm run bench`: cold start, per-run CPU, sweep throughput and memory, and end-to-end
 * rate through the Pub/Sub emulator. Every figure is a median over repeated runs and, where
 * it is a ratio, against a baseline measured side by side in the same run.
 */
import { cpus } from 'node:os';
import { join } from 'node:path';
import { childEnvironment, measureColdStarts } from './cold-start';
import { type CpuPerMessage, measureEndToEnd } from './e2e';
import { startEnvironment } from './environment';
import { measurePerRunCpu } from './per-run-cpu';
import { round } from './stats';
import { measureSweep } from './sweep';
import { buildUncachedBundle } from './uncached-bundle';

const DIST = join(__dirname, '..', '..');
const REPOSITORY_ROOT = join(DIST, '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** Cold starts vary most from one to the next on a shared machine: more of them. */
const COLD_START_ROUNDS = Number(process.env.BENCH_COLD_START_ROUNDS ?? 15);
const DEFAULT_CONCURRENCY = 10;

function table(rows: readonly (readonly [string, string, string])[]): string {
  const widths = [0, 1, 2].map((column) =>
    Math.max(...rows.map((row) => row[column]?.length ?? 0)),
  );
  return rows
    .map((row, index) => {
      const line = row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ');
      return index === 0 ? `${line}\n${widths.map((width) => '-'.repeat(width)).join('  ')}` : line;
    })
    .join('\n');
}

function withoutNodeOptions(env: Record<string, string>): Record<string, string> {
  const { NODE_OPTIONS: _dropped, ...rest } = env;
  return rest;
}

/** CPU milliseconds a message costs each process, and their sum. */
function cpuText(cpu: CpuPerMessage, driver: string): string {
  const parts = [
    ...(cpu.function > 0 ? [`function ${round(cpu.function, 2)}`] : []),
    `Pub/Sub emulator ${round(cpu.pubsubEmulator, 2)}`,
    `${driver} + driver ${round(cpu.driver, 2)}`,
  ];
  const total = cpu.function + cpu.pubsubEmulator + cpu.driver;
  return `${parts.join(' + ')} = ${round(total, 2)} ms`;
}

async function main(): Promise<void> {
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}`;
  console.log(`machine: ${machine}`);
  const environment = await startEnvironment();
  try {
    console.log('cold start ...');
    const env = childEnvironment(environment.functionEnv);
    const data = () => ({ automationRun: environment.seedInFlightRun() });
    const product = { target: 'cancelAutomationRuns', env, data };
    const uncached = await buildUncachedBundle(join(DIST, 'bench', 'uncached-bundle'));
    const cold = await measureColdStarts(
      [
        {
          label: 'bare',
          source: join(DIST, 'scripts/bench/fixtures/bare-function.js'),
          target: 'bare',
          env,
          data,
        },
        {
          // Any V8 flag makes Node.js compile its own modules instead of using its built-in
          // cache: this row shows what the deployed NODE_OPTIONS costs every start.
          label: 'bare, no NODE_OPTIONS',
          source: join(DIST, 'scripts/bench/fixtures/bare-function.js'),
          target: 'bare',
          env: withoutNodeOptions(env),
          data,
        },
        {
          label: 'eager',
          source: join(DIST, 'scripts/bench/fixtures/eager-function.js'),
          ...product,
        },
        { label: 'tsc', source: join(DIST, 'src/index.js'), ...product },
        { label: 'bundle', source: REPOSITORY_ROOT, ...product },
        { label: 'bundle, no code cache', source: join(uncached, 'index.js'), ...product },
      ],
      COLD_START_ROUNDS,
    );
    const coldMs = (label: string) =>
      cold.find((result) => result.label === label)?.medianMs ?? NaN;

    console.log('per-run CPU ...');
    const cpu = await measurePerRunCpu(environment.deploy, ROUNDS);

    console.log('sweep ...');
    const sweep = await measureSweep(environment, {
      runs: 1000,
      concurrency: DEFAULT_CONCURRENCY,
      latencyMs: 20,
      rounds: 3,
    });
    const sequentialRuns = Number(process.env.BENCH_SEQUENTIAL_RUNS ?? 1000);
    const sequential = await measureSweep(environment, {
      runs: sequentialRuns,
      concurrency: 1,
      latencyMs: 20,
      rounds: 1,
    });

    console.log('end to end ...');
    const e2e = await measureEndToEnd(environment, {
      messages: 1000,
      latencySamples: 200,
      rounds: 3,
    });

    const bare = coldMs('bare');
    const deployed = coldMs('bundle');
    const coldStartRatio = deployed / bare;
    const perRunCpuMs = Math.max(cpu.fakesMs, cpu.adapterMs);
    const sweepVsFloor = sweep.medianWallMs / sweep.floorMs;
    const e2eVsPushCeiling = e2e.function.ratePerSecond / e2e.ceiling.ratePerSecond;
    const ms = (value: number) => `${round(value, 0)} ms`;
    const emulatorsOnly =
      (e2e.cores * 1000) /
      (e2e.function.cpuPerMessage.pubsubEmulator + e2e.function.cpuPerMessage.driver);
    const rows: [string, string, string][] = [
      ['figure', 'value', 'target / baseline'],
      ...cold.map(
        (result) =>
          [
            `cold start: ${result.label}`,
            `${ms(result.medianMs)} (${round(result.medianMs / bare)}x bare)`,
            result.label === 'bundle' ? '<= 2.0x bare (deployed build)' : '',
          ] as [string, string, string],
      ),
      ['per-run CPU: in-memory ports', `${round(cpu.fakesMs, 3)} ms`, '<= 0.5 ms'],
      [
        'per-run CPU: adapter + emulator',
        `${round(cpu.adapterMs, 3)} ms`,
        `<= 0.5 ms (${round(cpu.adapterTotalMs, 3)} total - ${round(cpu.adapterRawMs, 3)} raw client)`,
      ],
      [
        `sweep 1000 runs, c=${sweep.concurrency}, 20 ms`,
        `${ms(sweep.medianWallMs)} (${round(sweepVsFloor)}x floor)`,
        `<= 1.3x floor ${ms(sweep.floorMs)}`,
      ],
      [
        `sweep ${sequential.runs} runs, c=1, 20 ms`,
        `${ms(sequential.medianWallMs)} (${round(sequential.medianWallMs / sequential.floorMs)}x its floor)`,
        `${round(sequential.medianWallMs / sweep.medianWallMs, 1)}x the c=${sweep.concurrency} sweep`,
      ],
      [
        'sweep: handler process CPU',
        `${ms(sweep.cpuMs)} (${round(sweep.cpuMs / sweep.runs, 2)} ms a run)`,
        'real adapters, logs and audit publishes included',
      ],
      [
        'sweep: Cloud Deploy emulator',
        `${round(sweep.heldMeanMs, 2)} ms held a call (asked ${sweep.latencyMs})`,
        `${round(sweep.emulatorCpuMs / (sweep.runs * 2), 2)} ms CPU a call, in the driver's process`,
      ],
      [
        'peak RSS during sweep',
        `${round(sweep.sweepPeakRssMiB, 1)} MiB`,
        `<= 128 MiB (${round(sweep.baseRssMiB, 1)} before it; ${round(sweep.peakRssMiB, 1)} process lifetime)`,
      ],
      [
        'e2e push: emulator ceiling',
        `${round(e2e.ceiling.ratePerSecond, 0)} msg/s`,
        `latency p50/p90/p99 ${round(e2e.ceiling.p50Ms, 1)}/${round(e2e.ceiling.p90Ms, 1)}/${round(e2e.ceiling.p99Ms, 1)} ms`,
      ],
      [
        'e2e push: function',
        `${round(e2e.function.ratePerSecond, 0)} runs/s (${round(e2eVsPushCeiling)}x ceiling)`,
        `>= 0.5x; latency p50/p90/p99 ${round(e2e.function.p50Ms, 1)}/${round(e2e.function.p90Ms, 1)}/${round(e2e.function.p99Ms, 1)} ms`,
      ],
      [
        'e2e: CPU a message, ceiling',
        `${cpuText(e2e.ceiling.cpuPerMessage, 'sink')}`,
        'the emulator pushing to a sink that only acknowledges',
      ],
      [
        'e2e: CPU a message, function',
        `${cpuText(e2e.function.cpuPerMessage, 'Cloud Deploy emulator')}`,
        `${e2e.cores} cores carry at most ${round(e2e.cpuBoundPerSecond, 0)} msg/s (${round(e2e.cpuBoundPerSecond / e2e.ceiling.ratePerSecond)}x ceiling)`,
      ],
      [
        'e2e: the same without the function',
        `${round(emulatorsOnly, 0)} msg/s (${round(emulatorsOnly / e2e.ceiling.ratePerSecond)}x ceiling)`,
        'the most a function costing no CPU could reach here',
      ],
      [
        'e2e: one audit Publish to the emulator',
        `p50 ${round(e2e.publishP50Ms, 1)} ms`,
        `p90 ${round(e2e.publishP90Ms, 1)} ms (awaited before each ack)`,
      ],
    ];
    console.log('');
    console.log(table(rows));
    console.log('');
    console.log(
      `bench: coldStartRatio=${round(coldStartRatio)} perRunCpuMs=${round(perRunCpuMs, 3)} sweepVsFloor=${round(sweepVsFloor)} peakRssMiB=${round(sweep.sweepPeakRssMiB, 1)} e2eVsPushCeiling=${round(e2eVsPushCeiling)}`,
    );
  } finally {
    await environment.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
