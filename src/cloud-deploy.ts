/**
 * The Cloud Deploy adapter: the one place that talks to `@google-cloud/deploy`.
 * @see https://cloud.google.com/deploy/docs/api/reference/rpc/google.cloud.deploy.v1
 */
import type { protos, v1 } from '@google-cloud/deploy';
import type { AutomationRun, RunState } from './automation-run';
import { DeployApiError, GRPC_CODE_NAMES } from './errors/deploy-api-error';
import type { DeployPort } from './ports';
import { warmUpClient } from './warm-up';

type CloudDeployClient = InstanceType<typeof v1.CloudDeployClient>;
type ClientOptions = NonNullable<ConstructorParameters<typeof v1.CloudDeployClient>[0]>;
type ProtoAutomationRun = protos.google.cloud.deploy.v1.IAutomationRun;
type ProtoTimestamp = protos.google.protobuf.ITimestamp;

/**
 * Deadlines for one message's Cloud Deploy calls. The library's own defaults retry a
 * GetAutomationRun for up to 600 s, far beyond a function's timeout, so every call
 * passes these instead.
 */
export interface DeployCallTimeouts {
  /** Deadline of one attempt of GetAutomationRun, or of one ListAutomationRuns page. */
  readonly readAttemptMillis: number;
  /** Budget for all attempts of one read (one page), waits between them included. */
  readonly readTotalMillis: number;
  /** Longest first wait before retrying a read (the wait is jittered below it). */
  readonly readInitialBackoffMillis: number;
  /** The wait doubles after each attempt, up to this. */
  readonly readMaxBackoffMillis: number;
  /** Deadline of the single CancelAutomationRun attempt: it is never retried. */
  readonly cancelMillis: number;
}

export const DEFAULT_DEPLOY_CALL_TIMEOUTS: DeployCallTimeouts = Object.freeze({
  readAttemptMillis: 5_000,
  readTotalMillis: 20_000,
  readInitialBackoffMillis: 250,
  readMaxBackoffMillis: 4_000,
  cancelMillis: 10_000,
});

/** Reads are idempotent: these codes say the call may succeed if repeated. */
export const RETRIED_READ_CODES = [
  'UNAVAILABLE',
  'DEADLINE_EXCEEDED',
  'RESOURCE_EXHAUSTED',
] as const;

/**
 * The Cloud Deploy methods this adapter calls, as the API names them. The deployed bundle
 * carries the protos of these alone (scripts/build/bundle.ts).
 */
export const DEPLOY_METHODS = [
  'GetAutomationRun',
  'ListAutomationRuns',
  'CancelAutomationRun',
] as const;

/** The largest page ListAutomationRuns serves. */
const LIST_PAGE_SIZE = 1000;

export interface CloudDeployPortOptions {
  /** `host:port` of a Cloud Deploy emulator: plaintext gRPC and no credentials. */
  emulatorHost?: string | undefined;
  timeouts?: Partial<DeployCallTimeouts> | undefined;
}

export interface CloudDeployPort extends DeployPort {
  /** Builds the client and opens its channel now, in the background, not at the first call. */
  warmUp(): void;
  /** Closes the client's channel, if a call ever opened one. */
  close(): Promise<void>;
}

/** State numbers of `google.cloud.deploy.v1.AutomationRun.State`. */
const STATE_BY_NUMBER: Readonly<Record<number, RunState>> = {
  0: 'STATE_UNSPECIFIED',
  1: 'SUCCEEDED',
  2: 'CANCELLED',
  3: 'FAILED',
  4: 'IN_PROGRESS',
  5: 'PENDING',
  6: 'ABORTED',
};
const STATE_NAMES = new Set<string>(Object.values(STATE_BY_NUMBER));

function stateName(state: ProtoAutomationRun['state']): RunState {
  if (typeof state === 'number') return STATE_BY_NUMBER[state] ?? 'STATE_UNSPECIFIED';
  return typeof state === 'string' && STATE_NAMES.has(state)
    ? (state as RunState)
    : 'STATE_UNSPECIFIED';
}

function toDate(time: ProtoTimestamp | null | undefined): Date | undefined {
  if (time === null || time === undefined || time.seconds === null || time.seconds === undefined) {
    return undefined;
  }
  // Seconds arrive as a string, a number or a Long depending on how the protos were loaded.
  const seconds = Number(String(time.seconds));
  const millis = seconds * 1000 + Math.floor((time.nanos ?? 0) / 1_000_000);
  return Number.isFinite(millis) ? new Date(millis) : undefined;
}

function nonEmpty(value: string | null | undefined): string | undefined {
  return value === null || value === undefined || value === '' ? undefined : value;
}

/** Maps the library's AutomationRun (numeric or named enums) to ours. */
export function toAutomationRun(run: ProtoAutomationRun): AutomationRun {
  return {
    name: run.name ?? '',
    state: stateName(run.state),
    createTime: toDate(run.createTime),
    updateTime: toDate(run.updateTime),
    targetId: nonEmpty(run.targetId),
    automationId: nonEmpty(run.automationId),
    ruleId: nonEmpty(run.ruleId),
  };
}

/** Splits `host:port` (or `[v6]:port`) into the client's apiEndpoint and port. */
export function splitEmulatorHost(hostPort: string): { apiEndpoint: string; port: number } {
  const separator = hostPort.lastIndexOf(':');
  const port = Number(hostPort.slice(separator + 1));
  if (separator <= 0 || !Number.isInteger(port) || port <= 0 || port > 65_535) {
    throw new Error(`An emulator host must be host:port, got "${hostPort}"`);
  }
  return { apiEndpoint: hostPort.slice(0, separator), port };
}

function readCallOptions(timeouts: DeployCallTimeouts) {
  return {
    timeout: timeouts.readAttemptMillis,
    retry: {
      retryCodes: RETRIED_READ_CODES.map((code) => GRPC_CODE_NAMES.indexOf(code)),
      backoffSettings: {
        initialRetryDelayMillis: timeouts.readInitialBackoffMillis,
        retryDelayMultiplier: 2,
        maxRetryDelayMillis: timeouts.readMaxBackoffMillis,
        // The multiplier must be 1, not 0: google-gax treats 0 as "no deadline".
        initialRpcTimeoutMillis: timeouts.readAttemptMillis,
        rpcTimeoutMultiplier: 1,
        maxRpcTimeoutMillis: timeouts.readAttemptMillis,
        totalTimeoutMillis: timeouts.readTotalMillis,
      },
    },
  };
}

function createClient(emulatorHost: string | undefined): CloudDeployClient {
  // Required at first use, not at import, and only the client: the package's entry also
  // loads the whole API's generated message classes, which the client never uses.
  const Client = (require('@google-cloud/deploy/build/src/v1/cloud_deploy_client') as typeof v1)
    .CloudDeployClient;
  if (emulatorHost === undefined) return new Client();
  const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
  const options: ClientOptions = {
    ...splitEmulatorHost(emulatorHost),
    fallback: false,
    // With channel credentials given, google-gax never asks google-auth-library for a client.
    sslCreds: grpc.credentials.createInsecure(),
    // Without it, google-gax looks up credentials just to learn their universe domain.
    universeDomain: 'googleapis.com',
  };
  return new Client(options);
}

/** A {@link DeployPort} over the Cloud Deploy v1 client, created at the first call. */
export function createCloudDeployPort(options: CloudDeployPortOptions = {}): CloudDeployPort {
  const timeouts: DeployCallTimeouts = { ...DEFAULT_DEPLOY_CALL_TIMEOUTS, ...options.timeouts };
  const readOptions = readCallOptions(timeouts);
  // A cancel that timed out may still have happened: the caller re-reads the run instead.
  const cancelOptions = { timeout: timeouts.cancelMillis, retry: null };
  let client: CloudDeployClient | undefined;

  const call = async <T>(method: string, work: (deploy: CloudDeployClient) => Promise<T>) => {
    try {
      client ??= createClient(options.emulatorHost);
      return await work(client);
    } catch (error) {
      throw DeployApiError.from(method, error);
    }
  };

  return {
    getRun: (name) =>
      call('GetAutomationRun', async (deploy) => {
        const [run] = await deploy.getAutomationRun({ name }, readOptions);
        return toAutomationRun(run);
      }),

    listRuns: (pipeline, filter) =>
      call('ListAutomationRuns', async (deploy) => {
        const runs: AutomationRun[] = [];
        let pageToken = '';
        do {
          const [page, , response] = await deploy.listAutomationRuns(
            { parent: pipeline, filter, pageSize: LIST_PAGE_SIZE, pageToken },
            { ...readOptions, autoPaginate: false },
          );
          runs.push(...page.map(toAutomationRun));
          pageToken = response?.nextPageToken ?? '';
        } while (pageToken !== '');
        return runs;
      }),

    cancelRun: (name) =>
      call('CancelAutomationRun', async (deploy) => {
        await deploy.cancelAutomationRun({ name }, cancelOptions);
      }),

    warmUp: () => {
      try {
        client ??= createClient(options.emulatorHost);
      } catch {
        // The first call builds it again and reports why it cannot.
        return;
      }
      warmUpClient(client);
    },

    close: async () => {
      const opened = client;
      client = undefined;
      // google-gax rethrows a failed connection from close(); there is nothing left to close.
      await opened?.close().catch(() => undefined);
    },
  };
}
