/**
 * Cold start: from spawning the Functions Framework with a function to the answer to its
 * first request. For the product the answer comes once the decision is audited (the
 * handler returns after the audit publish is accepted), so this is process start to the
 * first audited decision.
 */
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { dirname, join } from 'node:path';
import { DEPLOYED_NODE_OPTIONS } from '../../src/bundle-loader';
import { findFreePort } from '../../src/emulator/pubsub-emulator';
import { median, nowMs } from './stats';

export interface ColdStartVariant {
  readonly label: string;
  /** File or directory given to `--source`. */
  readonly source: string;
  readonly target: string;
}

export interface ColdStartResult {
  readonly label: string;
  readonly samplesMs: number[];
  readonly medianMs: number;
}

const REPOSITORY_ROOT = join(__dirname, '..', '..', '..');

function functionsFrameworkMain(): string {
  const index = require.resolve('@google-cloud/functions-framework', { paths: [REPOSITORY_ROOT] });
  return join(dirname(index), 'main.js');
}

/**
 * The environment a deployed instance would have, its Node.js flags included, pointed at the
 * local emulators. Every variant, the bare baseline too, runs under it.
 */
export function childEnvironment(variables: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { NODE_OPTIONS: DEPLOYED_NODE_OPTIONS };
  for (const key of ['PATH', 'HOME', 'TMPDIR']) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return { ...env, ...variables };
}

/** A binary-mode CloudEvent as Eventarc delivers it; the body names one run. */
export function cloudEventRequest(data: unknown): {
  headers: Record<string, string>;
  body: string;
} {
  const messageId = `${Date.now()}${Math.floor(Math.random() * 1e6)}`;
  const publishTime = new Date().toISOString();
  const body = JSON.stringify({
    message: {
      data: Buffer.from(JSON.stringify(data)).toString('base64'),
      attributes: {},
      messageId,
      publishTime,
    },
    subscription: 'projects/local-project/subscriptions/bench',
  });
  return {
    headers: {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'ce-id': messageId,
      'ce-source': '//pubsub.googleapis.com/projects/local-project/topics/requests',
      'ce-specversion': '1.0',
      'ce-type': 'google.cloud.pubsub.topic.v1.messagePublished',
      'ce-time': publishTime,
    },
    body,
  };
}

/** One POST; rejects with the socket error when nothing listens yet. */
function post(
  port: number,
  message: { headers: Record<string, string>; body: string },
): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: '127.0.0.1', port, method: 'POST', path: '/', headers: message.headers },
      (response) => {
        response.resume();
        response.once('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.once('error', reject);
    request.end(message.body);
  });
}

/** Spawns the server, POSTs as soon as the port accepts, and times the answer. */
async function coldStartOnce(
  variant: ColdStartVariant,
  env: Record<string, string>,
  data: unknown,
): Promise<number> {
  const port = await findFreePort();
  const message = cloudEventRequest(data);
  const started = nowMs();
  const child = spawn(
    process.execPath,
    [
      functionsFrameworkMain(),
      `--target=${variant.target}`,
      '--signature-type=cloudevent',
      `--port=${port}`,
      `--source=${variant.source}`,
    ],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let exitedEarly = false;
  void exited.then(() => {
    exitedEarly = true;
  });
  try {
    for (;;) {
      try {
        const status = await post(port, message);
        if (status !== 204 && status !== 200) {
          throw new Error(`${variant.label}: first request answered ${status}: ${stderr}`);
        }
        return nowMs() - started;
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (code !== 'ECONNREFUSED') throw error;
        if (exitedEarly) throw new Error(`${variant.label}: server exited: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    }
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}

/**
 * Interleaves the variants round by round, so a burst of load on the machine hits all of
 * them alike, and reports each one's median.
 */
export async function measureColdStarts(
  variants: readonly (ColdStartVariant & { env: Record<string, string>; data: () => unknown })[],
  rounds: number,
): Promise<ColdStartResult[]> {
  const samples = variants.map(() => [] as number[]);
  // One unmeasured round warms the file system cache for every variant.
  for (const variant of variants) await coldStartOnce(variant, variant.env, variant.data());
  for (let round = 0; round < rounds; round += 1) {
    for (const [index, variant] of variants.entries()) {
      samples[index]?.push(await coldStartOnce(variant, variant.env, variant.data()));
    }
  }
  return variants.map((variant, index) => ({
    label: variant.label,
    samplesMs: samples[index] ?? [],
    medianMs: median(samples[index] ?? []),
  }));
}
