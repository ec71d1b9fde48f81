import type { AuditEvent } from '../../src/audit-event';
import type { AutomationRun, RunState } from '../../src/automation-run';
import type { Config } from '../../src/config';
import { DeployApiError, type GrpcCodeName } from '../../src/errors/deploy-api-error';
import type { Logger } from '../../src/logger';
import type { AuditPort, Clock, DeployPort } from '../../src/ports';
import { PipelinePattern } from '../../src/resource-names';

export const PIPELINE = 'projects/shop-prod/locations/us-central1/deliveryPipelines/checkout';
export const runName = (id: string, pipeline = PIPELINE) => `${pipeline}/automationRuns/${id}`;

export function buildRun(
  overrides: Partial<AutomationRun> & { name?: string } = {},
): AutomationRun {
  return {
    name: runName('run-1'),
    state: 'IN_PROGRESS',
    createTime: new Date('2026-12-04T09:00:00Z'),
    updateTime: new Date('2026-12-04T09:00:00Z'),
    targetId: 'prod',
    automationId: 'promote-to-prod',
    ruleId: 'promote',
    ...overrides,
  };
}

export function buildConfig(overrides: Partial<Config> = {}): Config {
  return {
    auditTopic: 'projects/shop-prod/topics/audit',
    allowedPipelines: [
      PipelinePattern.parse(
        'projects/shop-prod/locations/*/deliveryPipelines/*',
      ) as PipelinePattern,
    ],
    dryRun: false,
    maxRunsPerEvent: 50,
    maxEventAgeSeconds: 3600,
    defaultLocation: undefined,
    project: undefined,
    runConcurrency: 4,
    functionTimeoutSeconds: 60,
    cloudDeployEmulatorHost: undefined,
    pubsubEmulatorHost: undefined,
    ...overrides,
  };
}

type Method = 'getRun' | 'listRuns' | 'cancelRun';
interface Fault {
  method: Method;
  code: GrpcCodeName;
  times: number;
  afterEffect: boolean;
  runName: string | undefined;
}

/** An in-memory Cloud Deploy with the real state rules, behind our own port. */
export class FakeDeploy implements DeployPort {
  readonly runs = new Map<string, AutomationRun>();
  readonly calls: { method: Method; name: string; filter?: string }[] = [];
  readonly cancels = new Map<string, number>();
  private readonly faults: Fault[] = [];
  /** Called between the read and the cancel of a run, to model races. */
  beforeCancel: ((name: string) => void) | undefined;

  constructor(runs: AutomationRun[] = []) {
    for (const run of runs) this.runs.set(run.name, run);
  }

  fail(
    method: Method,
    code: GrpcCodeName,
    options: { times?: number; afterEffect?: boolean; runName?: string } = {},
  ) {
    this.faults.push({
      method,
      code,
      times: options.times ?? 1,
      afterEffect: options.afterEffect ?? false,
      runName: options.runName,
    });
  }

  setState(name: string, state: RunState) {
    const run = this.runs.get(name);
    if (run) this.runs.set(name, { ...run, state, updateTime: new Date() });
  }

  callCount(method: Method) {
    return this.calls.filter((call) => call.method === method).length;
  }

  private takeFault(method: Method, name: string): Fault | undefined {
    const fault = this.faults.find(
      (candidate) =>
        candidate.method === method &&
        candidate.times > 0 &&
        (candidate.runName === undefined || candidate.runName === name),
    );
    if (fault) fault.times -= 1;
    return fault;
  }

  private error(method: string, code: GrpcCodeName, message = `${code} injected`) {
    return new DeployApiError(method, code, message);
  }

  async getRun(name: string): Promise<AutomationRun> {
    this.calls.push({ method: 'getRun', name });
    const fault = this.takeFault('getRun', name);
    if (fault) throw this.error('GetAutomationRun', fault.code);
    const run = this.runs.get(name);
    if (!run)
      throw this.error('GetAutomationRun', 'NOT_FOUND', `AutomationRun "${name}" not found`);
    return run;
  }

  async listRuns(pipeline: string, filter: string): Promise<AutomationRun[]> {
    this.calls.push({ method: 'listRuns', name: pipeline, filter });
    const fault = this.takeFault('listRuns', pipeline);
    if (fault) throw this.error('ListAutomationRuns', fault.code);
    return [...this.runs.values()].filter((run) => run.name.startsWith(`${pipeline}/`));
  }

  async cancelRun(name: string): Promise<void> {
    this.calls.push({ method: 'cancelRun', name });
    this.beforeCancel?.(name);
    const fault = this.takeFault('cancelRun', name);
    if (fault && !fault.afterEffect) throw this.error('CancelAutomationRun', fault.code);
    const run = this.runs.get(name);
    if (!run) throw this.error('CancelAutomationRun', 'NOT_FOUND');
    if (run.state !== 'PENDING' && run.state !== 'IN_PROGRESS') {
      throw this.error(
        'CancelAutomationRun',
        'FAILED_PRECONDITION',
        `cannot cancel a run in state ${run.state}`,
      );
    }
    this.runs.set(name, { ...run, state: 'CANCELLED', updateTime: new Date() });
    this.cancels.set(name, (this.cancels.get(name) ?? 0) + 1);
    if (fault) throw this.error('CancelAutomationRun', fault.code);
  }
}

export class RecordingAudit implements AuditPort {
  readonly events: AuditEvent[] = [];
  failures = 0;

  async publishAudit(event: AuditEvent): Promise<void> {
    if (this.failures > 0) {
      this.failures -= 1;
      throw new Error('audit topic unavailable');
    }
    this.events.push(event);
  }
}

export class RecordingLogger implements Logger {
  readonly decisions: AuditEvent[] = [];
  readonly retries: { message: string; failures: readonly unknown[] }[] = [];
  decision(event: AuditEvent) {
    this.decisions.push(event);
  }
  retry(message: string, failures: readonly unknown[]) {
    this.retries.push({ message, failures });
  }
}

export class FixedClock implements Clock {
  constructor(public current: Date = new Date('2026-12-04T10:00:00Z')) {}
  now() {
    return new Date(this.current);
  }
}

/** A CloudEvent as Eventarc delivers a Pub/Sub message. */
export function buildEvent(
  data: unknown,
  overrides: {
    messageId?: string;
    publishTime?: string;
    time?: string;
    raw?: string | null;
    attributes?: Record<string, string>;
  } = {},
) {
  const publishTime = overrides.publishTime ?? '2026-12-04T09:59:59.000Z';
  const encoded =
    overrides.raw !== undefined
      ? overrides.raw
      : Buffer.from(JSON.stringify(data)).toString('base64');
  return {
    specversion: '1.0',
    id: overrides.messageId ?? 'message-1',
    source: '//pubsub.googleapis.com/projects/shop-prod/topics/requests',
    type: 'google.cloud.pubsub.topic.v1.messagePublished',
    time: overrides.time ?? publishTime,
    data: {
      message: {
        ...(encoded === null ? {} : { data: encoded }),
        attributes: overrides.attributes ?? {},
        messageId: overrides.messageId ?? 'message-1',
        publishTime,
      },
      subscription: 'projects/shop-prod/subscriptions/requests-push',
    },
  };
}
