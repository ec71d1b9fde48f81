/**
 * A local Cloud Deploy API: a real gRPC server over the protos that `@google-cloud/deploy`
 * ships, serving the AutomationRun methods with the rules of the real service, plus an
 * in-process control surface (seed runs, change states, inject faults and latency).
 * Every other CloudDeploy method answers UNIMPLEMENTED.
 * @see https://cloud.google.com/deploy/docs/api/reference/rpc/google.cloud.deploy.v1
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { RUN_STATES, type RunState } from '../automation-run';
import { GRPC_CODE_NAMES, type GrpcCodeName } from '../errors/deploy-api-error';
import { parsePipelineName, parseRunName } from '../resource-names';
import {
  evaluateFilter,
  type FilterExpression,
  type FilterFields,
  FilterSyntaxError,
  parseFilter,
} from './aip160-filter';

export const EMULATED_METHODS = [
  'GetAutomationRun',
  'ListAutomationRuns',
  'CancelAutomationRun',
] as const;
export type EmulatedMethod = (typeof EMULATED_METHODS)[number];

export function isEmulatedMethod(value: unknown): value is EmulatedMethod {
  return typeof value === 'string' && (EMULATED_METHODS as readonly string[]).includes(value);
}

/** An AutomationRun as the emulator stores it; unset strings are `''`, as in proto3. */
export interface EmulatedRun {
  readonly name: string;
  readonly createTime: Date;
  readonly updateTime: Date;
  readonly etag: string;
  readonly serviceAccount: string;
  readonly targetId: string;
  readonly state: RunState;
  readonly stateDescription: string;
  readonly expireTime: Date;
  readonly ruleId: string;
  readonly automationId: string;
  readonly waitUntilTime: Date | undefined;
}

/** What a test supplies to seed a run; everything but the name has a default. */
export interface SeedRun {
  name: string;
  state?: RunState | undefined;
  createTime?: Date | undefined;
  updateTime?: Date | undefined;
  targetId?: string | undefined;
  automationId?: string | undefined;
  ruleId?: string | undefined;
  stateDescription?: string | undefined;
  serviceAccount?: string | undefined;
  expireTime?: Date | undefined;
  waitUntilTime?: Date | undefined;
}

export interface Fault {
  /** The method to fail, or `*` for all three. */
  method: EmulatedMethod | '*';
  /** The status to answer with; leave out to only delay the call. */
  code?: grpc.status | GrpcCodeName | undefined;
  message?: string | undefined;
  /** Extra delay before answering, on top of the latency. */
  delayMs?: number | undefined;
  /** How many matching calls this fault affects; default 1. */
  times?: number | undefined;
  /** Only calls naming this run (or, for List, this parent). */
  runName?: string | undefined;
  /** Do the work, then answer with the error: a cancel that took effect but timed out. */
  afterEffect?: boolean | undefined;
}

export interface EmulatorCall {
  readonly method: string;
  /** The request's `name`, or `parent` for List. */
  readonly name: string;
  readonly time: Date;
}

export interface EmulatorOptions {
  /** Interface to listen on; default 127.0.0.1. */
  host?: string | undefined;
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number | undefined;
  /** Delay before every answer. */
  latencyMs?: number | undefined;
  /** Source of "now" for create and update times. */
  now?: (() => Date) | undefined;
}

/** AutomationRuns expire this long after creation. */
const RUN_LIFETIME_MILLIS = 14 * 24 * 3600 * 1000;
const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;
const RUN_NAME_FORMAT =
  'projects/{project}/locations/{location}/deliveryPipelines/{delivery_pipeline}/automationRuns/{automation_run}';
const PIPELINE_NAME_FORMAT =
  'projects/{project}/locations/{location}/deliveryPipelines/{delivery_pipeline}';

export const AUTOMATION_RUN_FILTER_FIELDS: FilterFields = {
  name: { kind: 'string' },
  state: { kind: 'enum', values: RUN_STATES },
  target_id: { kind: 'string' },
  automation_id: { kind: 'string' },
  rule_id: { kind: 'string' },
  create_time: { kind: 'timestamp' },
  update_time: { kind: 'timestamp' },
};

const ORDER_FIELDS = ['name', 'create_time', 'update_time'] as const;
type OrderField = (typeof ORDER_FIELDS)[number];
interface OrderKey {
  readonly field: OrderField;
  readonly descending: boolean;
}
interface SortKey {
  readonly name: string;
  readonly create_time: number;
  readonly update_time: number;
}

class RpcError extends Error {
  readonly code: grpc.status;
  readonly details: string;

  constructor(code: grpc.status, details: string) {
    super(details);
    this.code = code;
    this.details = details;
  }
}

let cachedService: grpc.ServiceDefinition | undefined;

/** The CloudDeploy service definition, read from the protos the client library ships. */
function cloudDeployService(): grpc.ServiceDefinition {
  if (cachedService !== undefined) return cachedService;
  const requireFromHere = createRequire(__filename);
  const deployPackage = requireFromHere.resolve('@google-cloud/deploy/package.json');
  // google-gax is the library's own dependency: resolve it from there, not from here.
  // Its main module is build/src/index.js; newer versions do not export package.json.
  const gaxMain = createRequire(deployPackage).resolve('google-gax');
  const gaxPackage = path.join(path.dirname(gaxMain), '..', '..', 'package.json');
  const definition = protoLoader.loadSync('google/cloud/deploy/v1/cloud_deploy.proto', {
    includeDirs: [
      path.join(path.dirname(deployPackage), 'build', 'protos'),
      path.join(path.dirname(gaxPackage), 'build', 'protos'),
    ],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    google: { cloud: { deploy: { v1: { CloudDeploy: grpc.ServiceClientConstructor } } } };
  };
  cachedService = loaded.google.cloud.deploy.v1.CloudDeploy.service;
  return cachedService;
}

function statusCode(code: grpc.status | GrpcCodeName): grpc.status {
  if (typeof code === 'number') return code;
  return GRPC_CODE_NAMES.indexOf(code) as grpc.status;
}

function timestamp(date: Date | undefined): { seconds: number; nanos: number } | null {
  if (date === undefined) return null;
  const millis = date.getTime();
  const seconds = Math.floor(millis / 1000);
  return { seconds, nanos: (millis - seconds * 1000) * 1_000_000 };
}

function toWire(run: EmulatedRun): Record<string, unknown> {
  return {
    name: run.name,
    createTime: timestamp(run.createTime),
    updateTime: timestamp(run.updateTime),
    etag: run.etag,
    serviceAccount: run.serviceAccount,
    targetId: run.targetId,
    state: run.state,
    stateDescription: run.stateDescription,
    expireTime: timestamp(run.expireTime),
    ruleId: run.ruleId,
    automationId: run.automationId,
    waitUntilTime: timestamp(run.waitUntilTime),
  };
}

function etagOf(run: Omit<EmulatedRun, 'etag'>): string {
  return createHash('sha256')
    .update(`${run.name}\n${run.state}\n${run.updateTime.toISOString()}\n${run.stateDescription}`)
    .digest('base64url')
    .slice(0, 20);
}

function withEtag(run: Omit<EmulatedRun, 'etag'>): EmulatedRun {
  return Object.freeze({ ...run, etag: etagOf(run) });
}

function filterValue(run: EmulatedRun, field: string): string | Date | undefined {
  switch (field) {
    case 'name':
      return run.name;
    case 'state':
      return run.state;
    case 'target_id':
      return run.targetId;
    case 'automation_id':
      return run.automationId;
    case 'rule_id':
      return run.ruleId;
    case 'create_time':
      return run.createTime;
    case 'update_time':
      return run.updateTime;
    default:
      return undefined;
  }
}

function parseOrderBy(orderBy: string): OrderKey[] {
  const keys: OrderKey[] = [];
  if (orderBy.trim() !== '') {
    for (const part of orderBy.split(',')) {
      const words = part.trim().split(/\s+/);
      const [rawField = '', direction = 'asc', ...rest] = words;
      const field = rawField.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
      const known = (ORDER_FIELDS as readonly string[]).includes(field);
      if (!known || rest.length > 0 || !['asc', 'desc'].includes(direction.toLowerCase())) {
        throw new RpcError(
          grpc.status.INVALID_ARGUMENT,
          `order_by "${orderBy}" is not supported: use a comma-separated list of ${ORDER_FIELDS.join(', ')}, each optionally followed by "desc"`,
        );
      }
      keys.push({ field: field as OrderField, descending: direction.toLowerCase() === 'desc' });
    }
  }
  if (keys.length === 0) keys.push({ field: 'create_time', descending: false });
  // Names are unique, so ending on the name makes the order total and the paging stable.
  if (!keys.some((key) => key.field === 'name')) keys.push({ field: 'name', descending: false });
  return keys;
}

function sortKey(run: EmulatedRun): SortKey {
  return {
    name: run.name,
    create_time: run.createTime.getTime(),
    update_time: run.updateTime.getTime(),
  };
}

function compareKeys(order: readonly OrderKey[], left: SortKey, right: SortKey): number {
  for (const { field, descending } of order) {
    const a = left[field];
    const b = right[field];
    if (a !== b) return (a < b ? -1 : 1) * (descending ? -1 : 1);
  }
  return 0;
}

interface PageToken {
  readonly fingerprint: string;
  readonly after: SortKey;
}

function fingerprintOf(parent: string, filter: string, orderBy: string): string {
  return createHash('sha256')
    .update(JSON.stringify([parent, filter, orderBy]))
    .digest('base64url')
    .slice(0, 16);
}

function encodePageToken(token: PageToken): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodePageToken(text: string, fingerprint: string): PageToken {
  const invalid = new RpcError(
    grpc.status.INVALID_ARGUMENT,
    'The page token is invalid, or the request does not match the one that returned it.',
  );
  let token: unknown;
  try {
    token = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  const candidate = token as Partial<PageToken> | null;
  const after = candidate?.after;
  if (
    candidate?.fingerprint !== fingerprint ||
    typeof after?.name !== 'string' ||
    typeof after.create_time !== 'number' ||
    typeof after.update_time !== 'number'
  ) {
    throw invalid;
  }
  return { fingerprint, after };
}

/** A Cloud Deploy emulator serving AutomationRuns over gRPC on `host`. */
export class CloudDeployEmulator {
  private readonly server = new grpc.Server();
  private readonly now: () => Date;
  private readonly store = new Map<string, EmulatedRun>();
  private readonly cancels = new Map<string, number>();
  private readonly faults: (Fault & { remaining: number })[] = [];
  private readonly callLog: EmulatorCall[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private latencyMs: number;
  private delayed = { calls: 0, totalMs: 0 };
  private boundHost = '';
  private boundPort = 0;

  private constructor(options: EmulatorOptions) {
    this.now = options.now ?? (() => new Date());
    this.latencyMs = options.latencyMs ?? 0;
    this.server.addService(cloudDeployService(), this.implementation());
  }

  static async start(options: EmulatorOptions = {}): Promise<CloudDeployEmulator> {
    const emulator = new CloudDeployEmulator(options);
    const host = options.host ?? '127.0.0.1';
    const hostPart = host.includes(':') ? `[${host}]` : host;
    emulator.boundPort = await new Promise<number>((resolve, reject) => {
      emulator.server.bindAsync(
        `${hostPart}:${options.port ?? 0}`,
        grpc.ServerCredentials.createInsecure(),
        (error, port) => (error ? reject(error) : resolve(port)),
      );
    });
    emulator.boundHost = `${hostPart}:${emulator.boundPort}`;
    return emulator;
  }

  /** `127.0.0.1:PORT`: what `CLOUD_DEPLOY_EMULATOR_HOST` takes. */
  get host(): string {
    return this.boundHost;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Stores a run (replacing one of the same name) and returns the stored record. */
  seedRun(seed: SeedRun): EmulatedRun {
    if (parseRunName(seed.name) === undefined) {
      throw new Error(`Not an AutomationRun name (${RUN_NAME_FORMAT}): ${seed.name}`);
    }
    const createTime = seed.createTime ?? this.now();
    const run = withEtag({
      name: seed.name,
      createTime,
      updateTime: seed.updateTime ?? createTime,
      serviceAccount: seed.serviceAccount ?? '',
      targetId: seed.targetId ?? '',
      state: seed.state ?? 'PENDING',
      stateDescription: seed.stateDescription ?? '',
      expireTime: seed.expireTime ?? new Date(createTime.getTime() + RUN_LIFETIME_MILLIS),
      ruleId: seed.ruleId ?? '',
      automationId: seed.automationId ?? '',
      waitUntilTime: seed.waitUntilTime,
    });
    this.store.set(run.name, run);
    return run;
  }

  seedRuns(...seeds: (SeedRun | readonly SeedRun[])[]): EmulatedRun[] {
    return seeds.flat().map((seed) => this.seedRun(seed));
  }

  /** Moves a run to a state, as Cloud Deploy would when the run progresses. */
  setState(name: string, state: RunState, stateDescription = ''): EmulatedRun {
    const run = this.store.get(name);
    if (run === undefined) throw new Error(`No such AutomationRun: ${name}`);
    const updated = withEtag({ ...run, state, stateDescription, updateTime: this.now() });
    this.store.set(name, updated);
    return updated;
  }

  getRun(name: string): EmulatedRun | undefined {
    return this.store.get(name);
  }

  /** Every stored run, or those of one pipeline, by create time then name. */
  runs(pipeline?: string): EmulatedRun[] {
    const order = parseOrderBy('');
    return [...this.store.values()]
      .filter((run) => pipeline === undefined || parseRunName(run.name)?.pipelineName === pipeline)
      .sort((left, right) => compareKeys(order, sortKey(left), sortKey(right)));
  }

  /** How many CancelAutomationRun calls took effect on this run. */
  cancelCount(name: string): number {
    return this.cancels.get(name) ?? 0;
  }

  injectFault(fault: Fault): void {
    if (fault.method !== '*' && !isEmulatedMethod(fault.method)) {
      throw new Error(`Unknown method for a fault: ${String(fault.method)}`);
    }
    if (fault.code === undefined && (fault.delayMs ?? 0) <= 0) {
      throw new Error('A fault needs a code, a delayMs, or both');
    }
    if (fault.code !== undefined) {
      const code = statusCode(fault.code);
      if (!(code > 0 && code < GRPC_CODE_NAMES.length)) {
        throw new Error(`Not a gRPC error code: ${String(fault.code)}`);
      }
    }
    const times = fault.times ?? 1;
    if (!(times >= 1)) throw new Error('A fault must apply at least once');
    this.faults.push({ ...fault, remaining: times });
  }

  setLatency(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  get calls(): readonly EmulatorCall[] {
    return this.callLog;
  }

  /**
   * How long the calls held back by latency or a delay fault were actually held, from
   * arrival to answer, since the last time this was asked: timers fire late, never early.
   */
  takeDelayStatistics(): { calls: number; meanMs: number } {
    const { calls, totalMs } = this.delayed;
    this.delayed = { calls: 0, totalMs: 0 };
    return { calls, meanMs: calls === 0 ? 0 : totalMs / calls };
  }

  /** Forgets runs, faults, latency and the call log. */
  reset(): void {
    this.store.clear();
    this.cancels.clear();
    this.faults.length = 0;
    this.callLog.length = 0;
    this.latencyMs = 0;
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    // Calls still delayed are cancelled: a stopped emulator answers nothing.
    this.server.forceShutdown();
  }

  private implementation(): grpc.UntypedServiceImplementation {
    const implementation: grpc.UntypedServiceImplementation = {};
    for (const method of Object.keys(cloudDeployService())) {
      implementation[method] = this.unimplemented(method);
    }
    implementation.GetAutomationRun = this.unary('GetAutomationRun', (request) =>
      this.get(String(request.name ?? '')),
    );
    implementation.ListAutomationRuns = this.unary('ListAutomationRuns', (request) =>
      this.list(request),
    );
    implementation.CancelAutomationRun = this.unary('CancelAutomationRun', (request) =>
      this.cancel(String(request.name ?? '')),
    );
    return implementation;
  }

  private unimplemented(method: string): grpc.handleUnaryCall<Record<string, unknown>, unknown> {
    return (call, callback) => {
      const request = call.request;
      this.callLog.push({
        method,
        name: String(request.name ?? request.parent ?? ''),
        time: this.now(),
      });
      callback(
        new RpcError(
          grpc.status.UNIMPLEMENTED,
          `Method ${method} is not implemented by the emulator`,
        ),
      );
    };
  }

  /** Wraps one method: log, faults and latency, then `work`, whose check-and-set is synchronous. */
  private unary(
    method: EmulatedMethod,
    work: (request: Record<string, unknown>) => Record<string, unknown>,
  ): grpc.handleUnaryCall<Record<string, unknown>, Record<string, unknown>> {
    return (call, callback) => {
      const request = call.request;
      const resource = String(
        (method === 'ListAutomationRuns' ? request.parent : request.name) ?? '',
      );
      this.callLog.push({ method, name: resource, time: this.now() });
      const fault = this.takeFault(method, resource);
      const delay = this.latencyMs + (fault?.delayMs ?? 0);
      const answer = () => {
        const injected =
          fault?.code === undefined
            ? undefined
            : new RpcError(
                statusCode(fault.code),
                fault.message ?? `Injected fault: ${GRPC_CODE_NAMES[statusCode(fault.code)]}`,
              );
        if (injected !== undefined && fault?.afterEffect !== true) {
          callback(injected);
          return;
        }
        try {
          const response = work(request);
          if (injected !== undefined) callback(injected);
          else callback(null, response);
        } catch (error) {
          callback(
            error instanceof RpcError
              ? error
              : new RpcError(
                  grpc.status.INTERNAL,
                  error instanceof Error ? error.message : String(error),
                ),
          );
        }
      };
      if (delay <= 0) {
        answer();
        return;
      }
      const arrived = performance.now();
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.delayed.calls += 1;
        this.delayed.totalMs += performance.now() - arrived;
        answer();
      }, delay);
      this.timers.add(timer);
    };
  }

  private takeFault(method: EmulatedMethod, resource: string): Fault | undefined {
    const index = this.faults.findIndex(
      (fault) =>
        (fault.method === '*' || fault.method === method) &&
        (fault.runName === undefined || fault.runName === resource),
    );
    const fault = this.faults[index];
    if (fault === undefined) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults.splice(index, 1);
    return fault;
  }

  private existingRun(name: string): EmulatedRun {
    if (parseRunName(name) === undefined) {
      throw new RpcError(
        grpc.status.INVALID_ARGUMENT,
        `Invalid AutomationRun name "${name}": the format is ${RUN_NAME_FORMAT}`,
      );
    }
    const run = this.store.get(name);
    if (run === undefined) {
      throw new RpcError(grpc.status.NOT_FOUND, `Resource '${name}' was not found`);
    }
    return run;
  }

  private get(name: string): Record<string, unknown> {
    return toWire(this.existingRun(name));
  }

  private cancel(name: string): Record<string, unknown> {
    const run = this.existingRun(name);
    if (run.state !== 'PENDING' && run.state !== 'IN_PROGRESS') {
      throw new RpcError(
        grpc.status.FAILED_PRECONDITION,
        `AutomationRun '${name}' is ${run.state}: only PENDING or IN_PROGRESS runs can be cancelled`,
      );
    }
    this.store.set(
      name,
      withEtag({
        ...run,
        state: 'CANCELLED',
        stateDescription: 'The AutomationRun was cancelled by a CancelAutomationRun request.',
        updateTime: this.now(),
      }),
    );
    this.cancels.set(name, this.cancelCount(name) + 1);
    return {};
  }

  private list(request: Record<string, unknown>): Record<string, unknown> {
    const parent = String(request.parent ?? '');
    const filter = String(request.filter ?? '');
    const orderBy = String(request.orderBy ?? '');
    const pageToken = String(request.pageToken ?? '');
    const requestedSize = Number(request.pageSize ?? 0);
    if (parsePipelineName(parent) === undefined) {
      throw new RpcError(
        grpc.status.INVALID_ARGUMENT,
        `Invalid parent "${parent}": the format is ${PIPELINE_NAME_FORMAT}`,
      );
    }
    if (!Number.isInteger(requestedSize) || requestedSize < 0) {
      throw new RpcError(grpc.status.INVALID_ARGUMENT, 'page_size must not be negative');
    }
    let expression: FilterExpression;
    try {
      expression = parseFilter(filter, AUTOMATION_RUN_FILTER_FIELDS);
    } catch (error) {
      if (error instanceof FilterSyntaxError) {
        throw new RpcError(grpc.status.INVALID_ARGUMENT, `filter "${filter}": ${error.message}`);
      }
      throw error;
    }
    const order = parseOrderBy(orderBy);
    const fingerprint = fingerprintOf(parent, filter, orderBy);
    const after = pageToken === '' ? undefined : decodePageToken(pageToken, fingerprint).after;
    const pageSize = Math.min(
      requestedSize === 0 ? DEFAULT_PAGE_SIZE : requestedSize,
      MAX_PAGE_SIZE,
    );
    const matching = this.runs(parent)
      .filter((run) => evaluateFilter(expression, (field) => filterValue(run, field)))
      .sort((left, right) => compareKeys(order, sortKey(left), sortKey(right)));
    const start =
      after === undefined
        ? 0
        : matching.findIndex((run) => compareKeys(order, sortKey(run), after) > 0);
    const page = start < 0 ? [] : matching.slice(start, start + pageSize);
    const last = page.at(-1);
    const more = start >= 0 && start + pageSize < matching.length && last !== undefined;
    return {
      automationRuns: page.map(toWire),
      nextPageToken: more ? encodePageToken({ fingerprint, after: sortKey(last) }) : '',
      unreachable: [],
    };
  }
}
