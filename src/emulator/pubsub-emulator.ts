import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Options for {@link PubSubEmulator.start}. */
export interface PubSubEmulatorOptions {
  /** Project the emulator serves; any id works. Default `local-project`. */
  project?: string;
  /** Port to listen on; default a free one. */
  port?: number;
  /** The gcloud executable; default the first `gcloud` on `env.PATH`. */
  gcloudPath?: string;
  /** Environment for the PATH lookup and the emulator; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** How long to wait for the emulator to answer. Default 60 s. */
  startTimeoutMs?: number;
}

/** The emulator cannot run here; `message` is one line naming what is missing and its fix. */
export class PubSubEmulatorUnavailableError extends Error {
  override readonly name = 'PubSubEmulatorUnavailableError';
}

export function isPubSubEmulatorUnavailableError(
  error: unknown,
): error is PubSubEmulatorUnavailableError {
  return error instanceof PubSubEmulatorUnavailableError;
}

const HOST = '127.0.0.1';
const OUTPUT_LIMIT = 16 * 1024;
const STOP_GRACE_MS = 5_000;
const INSTALL_CLI = 'install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install)';
const INSTALL_COMPONENTS = 'gcloud components install pubsub-emulator beta';
const INSTALL_DEBIAN = 'apt-get install google-cloud-cli-pubsub-emulator';

/** A port nothing listens on right now, chosen by the kernel. */
export async function findFreePort(host = HOST): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => {
        if (typeof address === 'object' && address !== null) resolve(address.port);
        else reject(new Error('could not read the port of a probe server'));
      });
    });
  });
}

function findOnPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const directory of (env.PATH ?? '').split(delimiter)) {
    if (directory === '') continue;
    const candidate = join(directory, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** `<sdk root>/bin/gcloud` in every layout (tarball, Debian, RPM, Homebrew), symlinks followed. */
function sdkRootOf(gcloudPath: string): string | undefined {
  try {
    const root = dirname(dirname(realpathSync(gcloudPath)));
    return existsSync(join(root, 'lib', 'gcloud.py')) ? root : undefined;
  } catch {
    return undefined;
  }
}

/** Packaged SDKs disable the component manager, so there the fix is the package manager. */
function installCommandFor(sdkRoot: string | undefined): string {
  return sdkRoot?.startsWith('/usr/lib/google-cloud-sdk') === true
    ? `\`${INSTALL_DEBIAN}\``
    : `\`${INSTALL_COMPONENTS}\``;
}

function checkInstalled(gcloudPath: string | undefined): string {
  if (gcloudPath === undefined || !existsSync(gcloudPath)) {
    throw new PubSubEmulatorUnavailableError(
      `Pub/Sub emulator unavailable: gcloud is not on PATH; ${INSTALL_CLI}, then run \`${INSTALL_COMPONENTS}\``,
    );
  }
  const sdkRoot = sdkRootOf(gcloudPath);
  if (sdkRoot !== undefined && !existsSync(join(sdkRoot, 'platform', 'pubsub-emulator'))) {
    throw new PubSubEmulatorUnavailableError(
      `Pub/Sub emulator unavailable: the gcloud component pubsub-emulator is not installed in ${sdkRoot}; run ${installCommandFor(sdkRoot)}`,
    );
  }
  return gcloudPath;
}

/** Turns the output of a start that died into one line saying what to install. */
function explainEarlyExit(output: string, gcloudPath: string, detail: string): Error {
  const lines = output.split('\n').map((line) => line.trim());
  const errorLine = lines.filter((line) => /^ERROR|exception|error:/i.test(line)).at(-1);
  if (/component|not installed/i.test(output)) {
    return new PubSubEmulatorUnavailableError(
      `Pub/Sub emulator unavailable: a gcloud component is missing (${errorLine ?? detail}); run ${installCommandFor(sdkRootOf(gcloudPath))}`,
    );
  }
  if (/java.*(not found|No such file)|requires.*java|JAVA_HOME/i.test(output)) {
    return new PubSubEmulatorUnavailableError(
      'Pub/Sub emulator unavailable: it needs a Java runtime (11 or newer) on PATH; install one, e.g. `apt-get install default-jre-headless`',
    );
  }
  const lastLine = lines.filter((line) => line !== '').at(-1) ?? 'no output';
  return new Error(`Pub/Sub emulator failed to start (${detail}): ${errorLine ?? lastLine}`);
}

/** Live members of a process group. Zombies are left out: they need no killing, and may never be reaped. */
function liveGroupMembers(processGroup: number): number[] {
  if (process.platform !== 'linux') {
    try {
      process.kill(-processGroup, 0);
      return [processGroup];
    } catch {
      return [];
    }
  }
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // The command name may hold spaces and parentheses; the fields after the last ')' do not.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] !== 'Z' && Number(fields[2]) === processGroup) members.push(Number(entry));
  }
  return members;
}

function signalGroup(processGroup: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-processGroup, signal);
  } catch {
    // The group is already gone.
  }
}

async function waitUntilGroupGone(processGroup: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (liveGroupMembers(processGroup).length > 0) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** Groups still running; one 'exit' listener kills them all, however many emulators there are. */
const runningGroups = new Set<number>();
let exitHookInstalled = false;

function killOnProcessExit(processGroup: number): void {
  runningGroups.add(processGroup);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const group of runningGroups) signalGroup(group, 'SIGKILL');
  });
}

async function answersOk(host: string): Promise<boolean> {
  try {
    const response = await fetch(`http://${host}/`, { signal: AbortSignal.timeout(1_000) });
    return (await response.text()).trim() === 'Ok';
  } catch {
    return false;
  }
}

/**
 * The real Pub/Sub emulator (`gcloud beta emulators pubsub start`) on 127.0.0.1.
 *
 * gcloud runs python, which runs java: the emulator gets its own process group so that
 * stopping it ends all three.
 */
export class PubSubEmulator {
  /** `127.0.0.1:PORT`, the value `PUBSUB_EMULATOR_HOST` and `apiEndpoint` take. */
  readonly host: string;
  readonly port: number;
  readonly project: string;
  /** Milliseconds the last start took until the emulator answered. */
  startDurationMs = 0;

  readonly #gcloudPath: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #startTimeoutMs: number;
  #child: ChildProcess | undefined;
  #output = '';
  #stopped = false;

  private constructor(
    gcloudPath: string,
    port: number,
    project: string,
    env: NodeJS.ProcessEnv,
    startTimeoutMs: number,
  ) {
    this.#gcloudPath = gcloudPath;
    this.port = port;
    this.host = `${HOST}:${port}`;
    this.project = project;
    this.#env = env;
    this.#startTimeoutMs = startTimeoutMs;
  }

  /**
   * Starts the emulator and resolves once it answers. Throws
   * {@link PubSubEmulatorUnavailableError} when gcloud or the component is missing.
   */
  static async start(options: PubSubEmulatorOptions = {}): Promise<PubSubEmulator> {
    const env = options.env ?? process.env;
    const gcloudPath = checkInstalled(options.gcloudPath ?? findOnPath('gcloud', env));
    const port = options.port ?? (await findFreePort());
    const emulator = new PubSubEmulator(
      gcloudPath,
      port,
      options.project ?? 'local-project',
      env,
      options.startTimeoutMs ?? 60_000,
    );
    await emulator.#launch();
    return emulator;
  }

  /** Whether an emulator process is up. */
  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Process group id of the running emulator (its gcloud process id). */
  get processGroup(): number | undefined {
    return this.#child?.pid;
  }

  /** What the emulator printed in its current or last run, at most the last 16 KiB. */
  get output(): string {
    return this.#output;
  }

  /**
   * Kills the emulator process (for fault tests) but keeps the port for {@link startAgain}.
   * Clients see UNAVAILABLE until then.
   */
  async stopProcess(): Promise<void> {
    const child = this.#child;
    if (child?.pid === undefined) return;
    this.#child = undefined;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    signalGroup(child.pid, 'SIGTERM');
    if (!(await waitUntilGroupGone(child.pid, STOP_GRACE_MS))) {
      signalGroup(child.pid, 'SIGKILL');
      await waitUntilGroupGone(child.pid, STOP_GRACE_MS);
    }
    await exited;
    runningGroups.delete(child.pid);
  }

  /**
   * Starts a fresh emulator on the same port. The emulator keeps no state across
   * restarts: the caller must create its topics and subscriptions again.
   */
  async startAgain(): Promise<void> {
    if (this.#stopped) throw new Error('the emulator was stopped for good; start a new one');
    await this.stopProcess();
    await this.#launch();
  }

  /** Stops the emulator and everything it spawned; safe to call more than once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.stopProcess();
  }

  async #launch(): Promise<void> {
    const began = Date.now();
    this.#output = '';
    const child = spawn(
      this.#gcloudPath,
      [
        'beta',
        'emulators',
        'pubsub',
        'start',
        `--host-port=${this.host}`,
        `--project=${this.project}`,
      ],
      {
        // A missing component must fail, never wait for an answer on stdin.
        env: { ...this.#env, CLOUDSDK_CORE_DISABLE_PROMPTS: '1' },
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.#child = child;
    if (child.pid !== undefined) killOnProcessExit(child.pid);
    const record = (chunk: Buffer): void => {
      this.#output = (this.#output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
    };
    child.stdout?.on('data', record);
    child.stderr?.on('data', record);

    let earlyExit: string | undefined;
    child.once('error', (error) => {
      earlyExit = error.message;
    });
    child.once('exit', (code, signal) => {
      earlyExit ??= signal === null ? `exit code ${code}` : `signal ${signal}`;
    });

    const deadline = began + this.#startTimeoutMs;
    while (!(await answersOk(this.host))) {
      if (earlyExit !== undefined) {
        this.#child = undefined;
        if (child.pid !== undefined) {
          signalGroup(child.pid, 'SIGKILL');
          runningGroups.delete(child.pid);
        }
        throw explainEarlyExit(this.#output, this.#gcloudPath, earlyExit);
      }
      if (Date.now() > deadline) {
        await this.stopProcess();
        const lastLine = this.#output.trim().split('\n').at(-1) ?? 'no output';
        throw new Error(
          `Pub/Sub emulator did not answer on ${this.host} within ${this.#startTimeoutMs} ms: ${lastLine}`,
        );
      }
      await sleep(100);
    }
    this.startDurationMs = Date.now() - began;
  }
}
