/**
 * Runs the Cloud Deploy emulator with an HTTP JSON control server beside it, for demos and
 * for processes that cannot reach the emulator in memory:
 *
 *     node dist/src/emulator/deploy-emulator-main.js --port 8085 --control-port 8086
 *
 * Control routes: `GET /runs[?pipeline=P]`, `POST /runs` (one run, a list, or `{runs}`),
 * `PATCH|POST /runs/state` (`{name, state}`), `POST /faults`, `POST /latency` (`{ms}`),
 * `GET /calls`, `POST /reset`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import * as z from 'zod';
import { RUN_STATES } from '../automation-run';
import { GRPC_CODE_NAMES } from '../errors/deploy-api-error';
import { CloudDeployEmulator, EMULATED_METHODS, type EmulatedRun } from './deploy-emulator';

const MAX_BODY_BYTES = 1024 * 1024;

const optionalDate = z.iso
  .datetime({ offset: true })
  .transform((value) => new Date(value))
  .optional();

const seedSchema = z
  .object({
    name: z.string(),
    state: z.enum(RUN_STATES).optional(),
    createTime: optionalDate,
    updateTime: optionalDate,
    targetId: z.string().optional(),
    automationId: z.string().optional(),
    ruleId: z.string().optional(),
    stateDescription: z.string().optional(),
    serviceAccount: z.string().optional(),
    expireTime: optionalDate,
    waitUntilTime: optionalDate,
  })
  .strict();

/** One run, a list of runs, or `{runs: [...]}`. */
const seedBodySchema = z.preprocess((body) => {
  if (Array.isArray(body)) return body;
  if (typeof body === 'object' && body !== null && 'runs' in body) return body.runs;
  return [body];
}, z.array(seedSchema));

const stateBodySchema = z
  .object({ name: z.string(), state: z.enum(RUN_STATES), stateDescription: z.string().optional() })
  .strict();

const faultBodySchema = z
  .object({
    method: z.enum([...EMULATED_METHODS, '*']),
    code: z.union([z.enum(GRPC_CODE_NAMES), z.number().int().min(1).max(16)]).optional(),
    message: z.string().optional(),
    delayMs: z.number().int().min(0).optional(),
    times: z.number().int().min(1).optional(),
    runName: z.string().optional(),
    afterEffect: z.boolean().optional(),
  })
  .strict();

const latencyBodySchema = z.object({ ms: z.number().int().min(0) }).strict();

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function runJson(emulator: CloudDeployEmulator, run: EmulatedRun) {
  return { ...run, cancelCount: emulator.cancelCount(run.name) };
}

async function readJson(request: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'The body is larger than 1 MiB');
    chunks.push(buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return text === '' ? {} : JSON.parse(text);
  } catch {
    throw new HttpError(400, 'The body is not JSON');
  }
}

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (!result.success) {
    throw new HttpError(
      400,
      result.error.issues
        .map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`)
        .join('; '),
    );
  }
  return result.data;
}

/** The emulator refuses bad seeds and faults by throwing: that is the client's mistake. */
function rejectAsBadRequest<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw new HttpError(400, error instanceof Error ? error.message : String(error));
  }
}

type Route = (request: http.IncomingMessage, url: URL) => Promise<[number, unknown?]>;

function routes(emulator: CloudDeployEmulator): Record<string, Partial<Record<string, Route>>> {
  const changeState: Route = async (request) => {
    const body = parseBody(stateBodySchema, await readJson(request));
    if (emulator.getRun(body.name) === undefined) {
      throw new HttpError(404, `No such AutomationRun: ${body.name}`);
    }
    return [
      200,
      { run: runJson(emulator, emulator.setState(body.name, body.state, body.stateDescription)) },
    ];
  };
  return {
    '/runs': {
      GET: async (_request, url) => {
        const pipeline = url.searchParams.get('pipeline') ?? undefined;
        return [200, { runs: emulator.runs(pipeline).map((run) => runJson(emulator, run)) }];
      },
      POST: async (request) => {
        const seeds = parseBody(seedBodySchema, await readJson(request));
        const runs = rejectAsBadRequest(() => emulator.seedRuns(seeds));
        return [201, { runs: runs.map((run) => runJson(emulator, run)) }];
      },
    },
    '/runs/state': { PATCH: changeState, POST: changeState },
    '/faults': {
      POST: async (request) => {
        const fault = parseBody(faultBodySchema, await readJson(request));
        rejectAsBadRequest(() => emulator.injectFault(fault));
        return [204];
      },
    },
    '/latency': {
      POST: async (request) => {
        emulator.setLatency(parseBody(latencyBodySchema, await readJson(request)).ms);
        return [204];
      },
    },
    '/calls': { GET: async () => [200, { calls: emulator.calls }] },
    '/reset': {
      POST: async () => {
        emulator.reset();
        return [204];
      },
    },
  };
}

export interface ControlServer {
  /** `http://host:port` */
  readonly url: string;
  close(): Promise<void>;
}

/** Serves the emulator's control operations as HTTP JSON. */
export async function startControlServer(
  emulator: CloudDeployEmulator,
  options: { host?: string; port?: number } = {},
): Promise<ControlServer> {
  const table = routes(emulator);
  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://control');
    const route = table[url.pathname];
    const handler = route?.[request.method ?? 'GET'];
    const send = (status: number, body?: unknown) => {
      if (body === undefined) {
        response.writeHead(status).end();
        return;
      }
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (route === undefined) {
      send(404, { error: `No route ${url.pathname}` });
      return;
    }
    if (handler === undefined) {
      response.setHeader('allow', Object.keys(route).join(', '));
      send(405, { error: `${request.method} is not allowed on ${url.pathname}` });
      return;
    }
    handler(request, url).then(
      ([status, body]) => send(status, body),
      (error: unknown) =>
        error instanceof HttpError
          ? send(error.status, { error: error.message })
          : send(500, { error: error instanceof Error ? error.message : String(error) }),
    );
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

export interface EmulatorArguments {
  readonly host: string;
  readonly port: number;
  readonly controlPort: number;
  readonly latencyMs: number;
}

function portNumber(flag: string, value: string): number {
  const port = Number(value);
  if (!/^[0-9]+$/.test(value) || port > 65_535) {
    throw new Error(`--${flag} must be a port number (0 picks a free one), got "${value}"`);
  }
  return port;
}

export function parseEmulatorArguments(argv: readonly string[]): EmulatorArguments {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '8085' },
      'control-port': { type: 'string', default: '8086' },
      'latency-ms': { type: 'string', default: '0' },
    },
    strict: true,
  });
  const latencyMs = Number(values['latency-ms']);
  if (!Number.isInteger(latencyMs) || latencyMs < 0) {
    throw new Error(`--latency-ms must be a whole number, got "${values['latency-ms']}"`);
  }
  return {
    host: values.host,
    port: portNumber('port', values.port),
    controlPort: portNumber('control-port', values['control-port']),
    latencyMs,
  };
}

/** Starts both servers, prints their addresses on one line, and stops on SIGINT or SIGTERM. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const options = parseEmulatorArguments(argv);
  const emulator = await CloudDeployEmulator.start({
    host: options.host,
    port: options.port,
    latencyMs: options.latencyMs,
  });
  const control = await startControlServer(emulator, {
    host: options.host,
    port: options.controlPort,
  });
  console.log(
    `Cloud Deploy emulator: CLOUD_DEPLOY_EMULATOR_HOST=${emulator.host} control=${control.url}`,
  );
  const stop = () => {
    Promise.all([control.close(), emulator.stop()]).then(
      () => undefined,
      (error: unknown) => {
        console.error(`Cloud Deploy emulator: stopping failed: ${String(error)}`);
        process.exitCode = 1;
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(
      `Cloud Deploy emulator: ${error instanceof Error ? error.message : String(error)}`,
    );
    process.exitCode = 1;
  });
}
