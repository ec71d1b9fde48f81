import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEPLOYED_NODE_OPTIONS } from '../bundle-loader';
import { findFreePort } from './pubsub-emulator';

/** The directory holding this repository's package.json, from src/emulator or dist/src/emulator. */
function findRepositoryRoot(start: string): string {
  let directory = start;
  while (!existsSync(join(directory, 'package.json'))) {
    const parent = dirname(directory);
    if (parent === directory) throw new Error(`no package.json above ${start}`);
    directory = parent;
  }
  return directory;
}

const REPOSITORY_ROOT = findRepositoryRoot(__dirname);

/** The Functions Framework's CLI entry, what `npx functions-framework` runs. */
function functionsFrameworkMain(): string {
  const index = require.resolve('@google-cloud/functions-framework', { paths: [REPOSITORY_ROOT] });
  return join(dirname(index), 'main.js');
}

export interface FunctionServerOptions {
  /** The function's configuration. With the two hosts below and PATH/HOME, all the child sees. */
  env?: Record<string, string | undefined>;
  /** Sets `PUBSUB_EMULATOR_HOST`. */
  pubsubEmulatorHost?: string;
  /** Sets `CLOUD_DEPLOY_EMULATOR_HOST`. */
  cloudDeployEmulatorHost?: string;
  /** Default `cancelAutomationRuns`. */
  target?: string;
  /** Directory whose package.json `main` is the function; default this repository (built). */
  source?: string;
  /** Default `cloudevent`. */
  signatureType?: 'cloudevent' | 'http' | 'event';
  /** Default a free port; kept across restarts. */
  port?: number;
  /** How long to wait for the port to accept connections. Default 15 s. */
  startTimeoutMs?: number;
}

/** One line the function wrote on stdout; `json` is set when the line is a JSON object. */
export interface FunctionLogLine {
  text: string;
  json: Record<string, unknown> | undefined;
  /** When the line was read (epoch milliseconds). */
  at: number;
}

/** How a server process ended. */
export interface FunctionServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** The server process ended before it listened, or while a caller waited on it. */
export class FunctionServerExitedError extends Error {
  override readonly name = 'FunctionServerExitedError';
  readonly exit: FunctionServerExit;

  constructor(message: string, exit: FunctionServerExit) {
    const lastLine = exit.stderr.trim().split('\n').at(-1) ?? '';
    super(`${message} (exit code ${exit.code}, signal ${exit.signal}): ${lastLine}`);
    this.exit = exit;
  }
}

function parseLine(text: string): FunctionLogLine {
  try {
    const value: unknown = JSON.parse(text);
    const json =
      typeof value === 'object' && value !== null && !Array.isArray(value)
        ? (value as Record<string, unknown>)
        : undefined;
    return { text, json, at: Date.now() };
  } catch {
    return { text, json: undefined, at: Date.now() };
  }
}

/** Servers still running; one 'exit' listener kills them all, however many there are. */
const runningServers = new Set<ChildProcess>();
let exitHookInstalled = false;

function killOnProcessExit(child: ChildProcess): void {
  runningServers.add(child);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const server of runningServers) server.kill('SIGKILL');
  });
}

async function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * The real Functions Framework serving a function, as a child process with an explicit
 * environment, so a crash, a restart or a configuration error behaves as on Cloud Run.
 */
export class FunctionServer {
  readonly port: number;
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Every stdout line of every run, in order; restarts append. */
  readonly logs: FunctionLogLine[] = [];
  /** Every stderr line of every run, in order. */
  readonly stderrLines: string[] = [];
  /** Resolves when the current process ends; {@link restart} replaces it. */
  exited: Promise<FunctionServerExit>;

  readonly #options: FunctionServerOptions;
  #child: ChildProcess | undefined;
  #stderr = '';
  #lastExit: FunctionServerExit = { code: null, signal: null, stderr: '' };
  readonly #lineWaiters = new Set<() => void>();

  private constructor(port: number, options: FunctionServerOptions) {
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.#options = options;
    this.exited = this.#spawn();
  }

  /** Spawns the server without waiting for it (see {@link ready}), for start-failure tests. */
  static async spawn(options: FunctionServerOptions = {}): Promise<FunctionServer> {
    return new FunctionServer(options.port ?? (await findFreePort()), options);
  }

  /** Spawns the server and resolves once it accepts connections. */
  static async start(options: FunctionServerOptions = {}): Promise<FunctionServer> {
    const server = await FunctionServer.spawn(options);
    await server.ready();
    return server;
  }

  /** Whether a server process is running. */
  /** The running server's process id. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** stderr of the current (or last) process. */
  get stderr(): string {
    return this.#stderr;
  }

  /** The URL a push subscription for `topic` should use, so the framework can name the topic. */
  pushEndpoint(topic: string): string {
    return `${this.url}/${topic}`;
  }

  /**
   * Resolves once the port accepts connections; throws {@link FunctionServerExitedError}
   * when the process ends first, as it does on a configuration error.
   */
  async ready(): Promise<void> {
    const deadline = Date.now() + (this.#options.startTimeoutMs ?? 15_000);
    let exit: FunctionServerExit | undefined;
    void this.exited.then((value) => {
      exit = value;
    });
    while (!(await acceptsConnections(this.port))) {
      if (exit !== undefined) {
        throw new FunctionServerExitedError('the function server exited at start', exit);
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`the function server did not listen on ${this.port}: ${this.#stderr}`);
      }
      await sleep(50);
    }
  }

  /**
   * Resolves with the first stdout line, from `fromIndex` on, that `predicate` accepts;
   * rejects after `timeoutMs`, or once the process has exited without one.
   */
  async waitForLog(
    predicate: (line: FunctionLogLine) => boolean,
    timeoutMs = 10_000,
    fromIndex = 0,
  ): Promise<FunctionLogLine> {
    let index = fromIndex;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (; index < this.logs.length; index += 1) {
        const line = this.logs[index];
        if (line !== undefined && predicate(line)) return line;
      }
      if (!this.running) {
        throw new FunctionServerExitedError('the function server is not running', this.#lastExit);
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        const last = this.logs.at(-1)?.text ?? 'none';
        throw new Error(`no matching log line within ${timeoutMs} ms; last line: ${last}`);
      }
      await new Promise<void>((resolve) => {
        const waiters = this.#lineWaiters;
        const timer = setTimeout(wake, remaining);
        function wake(): void {
          clearTimeout(timer);
          waiters.delete(wake);
          resolve();
        }
        waiters.add(wake);
      });
    }
  }

  /** Sends `signal` (default SIGKILL, a crash) and resolves with how the process ended. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<FunctionServerExit> {
    this.#child?.kill(signal);
    return this.exited;
  }

  /** Stops the process if it runs, then starts a new one on the same port. */
  async restart(): Promise<void> {
    await this.stop();
    this.exited = this.#spawn();
    await this.ready();
  }

  /** Stops the server (SIGTERM, SIGKILL after 5 s); safe to call more than once. */
  async stop(): Promise<void> {
    if (!this.running) return;
    const timer = setTimeout(() => this.#child?.kill('SIGKILL'), 5_000);
    await this.kill('SIGTERM');
    clearTimeout(timer);
  }

  #childEnvironment(): Record<string, string> {
    const options = this.#options;
    const env: Record<string, string> = {};
    // Only what node needs, so the machine's own Google settings never leak in.
    for (const key of ['PATH', 'HOME', 'TMPDIR', 'SYSTEMROOT']) {
      const value = process.env[key];
      if (value !== undefined) env[key] = value;
    }
    // A deployed instance's flags, under which the build made the code cache.
    env.NODE_OPTIONS = DEPLOYED_NODE_OPTIONS;
    for (const [key, value] of Object.entries(options.env ?? {})) {
      if (value !== undefined) env[key] = value;
    }
    if (options.pubsubEmulatorHost !== undefined) {
      env.PUBSUB_EMULATOR_HOST = options.pubsubEmulatorHost;
    }
    if (options.cloudDeployEmulatorHost !== undefined) {
      env.CLOUD_DEPLOY_EMULATOR_HOST = options.cloudDeployEmulatorHost;
    }
    return env;
  }

  #spawn(): Promise<FunctionServerExit> {
    const options = this.#options;
    this.#stderr = '';
    const child = spawn(
      process.execPath,
      [
        functionsFrameworkMain(),
        `--target=${options.target ?? 'cancelAutomationRuns'}`,
        `--signature-type=${options.signatureType ?? 'cloudevent'}`,
        `--port=${this.port}`,
        `--source=${options.source ?? REPOSITORY_ROOT}`,
      ],
      { env: this.#childEnvironment(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#child = child;
    killOnProcessExit(child);

    let pending = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const text of lines) if (text.trim() !== '') this.logs.push(parseLine(text));
      for (const wake of [...this.#lineWaiters]) wake();
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.#stderr += chunk;
      this.stderrLines.push(...chunk.split('\n').filter((line) => line.trim() !== ''));
    });

    return new Promise((resolve) => {
      child.once('error', (error) => {
        this.#stderr += `${error.message}\n`;
      });
      // 'close' comes after the pipes are flushed, so the last lines are in `logs` by then.
      child.once('close', (code, signal) => {
        if (pending.trim() !== '') this.logs.push(parseLine(pending));
        pending = '';
        if (this.#child === child) this.#child = undefined;
        runningServers.delete(child);
        this.#lastExit = { code, signal, stderr: this.#stderr };
        for (const wake of [...this.#lineWaiters]) wake();
        resolve(this.#lastExit);
      });
    });
  }
}

/** A Pub/Sub message for the delivery helpers. */
export interface PubSubMessageInput {
  /** Bytes, or text as UTF-8. Empty goes as `""`, as the emulator sends it; undefined is left out. */
  data?: Buffer | string;
  attributes?: Record<string, string>;
  messageId?: string;
  publishTime?: Date | string;
}

export interface DeliveryOptions {
  project: string;
  topic: string;
  message: PubSubMessageInput;
  /** Default `projects/P/subscriptions/eventarc-local`. */
  subscription?: string;
  /** CloudEvent `id`; default the message id. */
  id?: string;
  /** CloudEvent `time`; default the publish time. */
  time?: Date | string;
  headers?: Record<string, string>;
}

export interface DeliveryResult {
  status: number;
  body: string;
}

function isoTime(value: Date | string | undefined, fallback: string): string {
  if (value === undefined) return fallback;
  return typeof value === 'string' ? value : value.toISOString();
}

/** The `{message, subscription}` body that both Eventarc and a push subscription send. */
export function pushBody(options: DeliveryOptions): {
  message: Record<string, unknown> & { messageId: string; publishTime: string };
  subscription: string;
} {
  const messageId = options.message.messageId ?? randomUUID();
  const publishTime = isoTime(options.message.publishTime, new Date().toISOString());
  const data = options.message.data;
  return {
    message: {
      attributes: options.message.attributes ?? {},
      // Empty data goes as "", the way the emulator's push sends it.
      ...(data === undefined
        ? {}
        : {
            data: (typeof data === 'string' ? Buffer.from(data, 'utf8') : data).toString('base64'),
          }),
      messageId,
      message_id: messageId,
      publishTime,
      publish_time: publishTime,
    },
    subscription:
      options.subscription ?? `projects/${options.project}/subscriptions/eventarc-local`,
  };
}

/**
 * POSTs a binary-mode CloudEvent as Eventarc's Pub/Sub trigger does: `ce-*` headers, the
 * push body as data.
 * @see https://github.com/googleapis/google-cloudevents/blob/main/proto/google/events/cloud/pubsub/v1/data.proto
 */
export async function postBinaryCloudEvent(
  url: string,
  options: DeliveryOptions,
): Promise<DeliveryResult> {
  const body = pushBody(options);
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'ce-id': options.id ?? body.message.messageId,
      'ce-source': `//pubsub.googleapis.com/projects/${options.project}/topics/${options.topic}`,
      'ce-specversion': '1.0',
      'ce-type': 'google.cloud.pubsub.topic.v1.messagePublished',
      'ce-time': isoTime(options.time, body.message.publishTime),
      ...options.headers,
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.text() };
}

/**
 * POSTs a raw Pub/Sub push body (no `ce-*` headers), as an emulator push subscription does,
 * to `url/projects/P/topics/T` so the framework can name the topic.
 */
export async function postPubSubPush(
  url: string,
  options: DeliveryOptions,
): Promise<DeliveryResult> {
  const target = `${url.replace(/\/+$/, '')}/projects/${options.project}/topics/${options.topic}`;
  const response = await fetch(target, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...options.headers },
    body: JSON.stringify(pushBody(options)),
  });
  return { status: response.status, body: await response.text() };
}
