import type * as z from 'zod';
import type { CancellableState } from './automation-run';
import { CANCELLABLE_STATES } from './automation-run';
import type { Source } from './outcomes';
import {
  type IncidentNotification,
  incidentNotificationSchema,
  MAX_MESSAGE_BYTES,
  MAX_REASON_LENGTH,
  namedRunsRequestSchema,
  sweepRequestSchema,
} from './request-schema';
import {
  LOCATION_PATTERN,
  PROJECT_PATTERN,
  pipelineName,
  RESOURCE_ID_PATTERN,
} from './resource-names';

/** Filters that select runs inside pipelines (sweeps and alerts). */
export interface RunFilter {
  readonly states: readonly CancellableState[];
  readonly olderThanSeconds: number | undefined;
  readonly targetId: string | undefined;
  readonly automationId: string | undefined;
  readonly ruleId: string | undefined;
}

interface RequestCommon {
  readonly reason: string | undefined;
  readonly requestId: string | undefined;
  readonly dryRun: boolean;
  readonly incidentId: string | undefined;
  readonly policyName: string | undefined;
}

export type CancelRequest =
  | (RequestCommon & {
      readonly kind: 'named';
      readonly source: 'REQUEST';
      readonly runs: readonly string[];
    })
  | (RequestCommon & {
      readonly kind: 'select';
      readonly source: 'SWEEP' | 'ALERT';
      readonly pipelines: readonly string[];
      readonly filter: RunFilter;
    })
  | (RequestCommon & { readonly kind: 'ignore'; readonly source: 'ALERT'; readonly why: string });

export type ParseResult =
  | { readonly ok: true; readonly request: CancelRequest }
  | {
      readonly ok: false;
      readonly source: Source;
      readonly message: string;
      /** What could be read of the request before it failed, for the audit. */
      readonly partial: Partial<RequestCommon>;
    };

export interface ParseOptions {
  readonly defaultLocation: string | undefined;
  /** The function's own project: an alert's last resort when it names none. */
  readonly defaultProject?: string | undefined;
}

const BASE64 =
  /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

const LABEL_PIPELINE = 'clouddeploy_pipeline';
const LABEL_LOCATION = 'clouddeploy_location';
const LABEL_PROJECT = 'clouddeploy_project';
const LABEL_TARGET = 'clouddeploy_target';
const LABEL_AUTOMATION = 'clouddeploy_automation';
const LABEL_RULE = 'clouddeploy_rule';

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function reject(
  source: Source,
  message: string,
  partial: Partial<RequestCommon> = {},
): ParseResult {
  return { ok: false, source, message, partial };
}

/** Which shape a message claims to be, from its keys alone. */
function sourceOf(value: Record<string, unknown>): Source {
  if ('incident' in value || 'version' in value) return 'ALERT';
  if ('pipeline' in value || 'pipelines' in value) return 'SWEEP';
  return 'REQUEST';
}

/** What of the common fields can be trusted before the whole message is valid. */
function partialCommon(value: Record<string, unknown>): Partial<RequestCommon> {
  const partial: { -readonly [K in keyof RequestCommon]?: RequestCommon[K] } = {};
  if (typeof value.requestId === 'string' && value.requestId.length <= 128) {
    partial.requestId = value.requestId;
  }
  if (typeof value.reason === 'string' && value.reason.length <= MAX_REASON_LENGTH) {
    partial.reason = value.reason;
  }
  return partial;
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      if (issue.code === 'unrecognized_keys') {
        return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}`;
      }
      return path === '' ? issue.message : `${path}: ${issue.message}`;
    })
    .join('; ');
}

/** Decodes and validates message data: size, then base64 and UTF-8, then JSON, then shape. */
export function parseRequest(data: string | null, options: ParseOptions): ParseResult {
  if (data === null) return reject('REQUEST', 'message has no data: expected a JSON request');
  // Base64 grows data by 4/3; reject before decoding anything huge.
  if (data.length > Math.ceil(MAX_MESSAGE_BYTES / 3) * 4 + 4) {
    return reject(
      'REQUEST',
      `message data is over ${MAX_MESSAGE_BYTES} bytes; the limit is ${MAX_MESSAGE_BYTES}`,
    );
  }
  if (!BASE64.test(data)) return reject('REQUEST', 'message data is not valid base64');
  const bytes = Buffer.from(data, 'base64');
  if (bytes.length > MAX_MESSAGE_BYTES) {
    return reject(
      'REQUEST',
      `message data is ${bytes.length} bytes; the limit is ${MAX_MESSAGE_BYTES}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(bytes));
  } catch (error) {
    const why = error instanceof TypeError ? 'is not valid UTF-8' : 'is not valid JSON';
    return reject('REQUEST', `message data ${why}`);
  }
  return parseRequestJson(json, options);
}

export function parseRequestJson(json: unknown, options: ParseOptions): ParseResult {
  if (!isRecord(json)) return reject('REQUEST', 'message data must be a JSON object');
  const source = sourceOf(json);
  const partial = partialCommon(json);
  if (source === 'ALERT') return parseIncident(json, partial, options);
  if (source === 'SWEEP') {
    const result = sweepRequestSchema.safeParse(json);
    if (!result.success)
      return reject(source, `invalid sweep request: ${describeIssues(result.error)}`, partial);
    const request = result.data;
    return {
      ok: true,
      request: {
        kind: 'select',
        source,
        pipelines: [...new Set(request.pipelines ?? (request.pipeline ? [request.pipeline] : []))],
        filter: {
          states: request.states ? [...new Set(request.states)] : CANCELLABLE_STATES,
          olderThanSeconds: request.olderThanSeconds,
          targetId: request.targetId,
          automationId: request.automationId,
          ruleId: request.ruleId,
        },
        reason: request.reason,
        requestId: request.requestId,
        dryRun: request.dryRun ?? false,
        incidentId: undefined,
        policyName: undefined,
      },
    };
  }
  if (!('automationRun' in json) && !('automationRuns' in json)) {
    return reject(
      source,
      'message is not a cancel request: expected automationRun(s), pipeline(s) or a Cloud Monitoring incident',
      partial,
    );
  }
  const result = namedRunsRequestSchema.safeParse(json);
  if (!result.success)
    return reject(source, `invalid request: ${describeIssues(result.error)}`, partial);
  const request = result.data;
  return {
    ok: true,
    request: {
      kind: 'named',
      source,
      runs: [
        ...new Set(
          request.automationRuns ?? (request.automationRun ? [request.automationRun] : []),
        ),
      ],
      reason: request.reason,
      requestId: request.requestId,
      dryRun: request.dryRun ?? false,
      incidentId: undefined,
      policyName: undefined,
    },
  };
}

function optionalLabel(labels: Record<string, unknown>, key: string): string | undefined {
  const value = labels[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function incidentReason(incident: IncidentNotification['incident']): string {
  const policy = incident.policy_name ?? 'unnamed policy';
  const summary = incident.summary ? `: ${incident.summary}` : '';
  return `Cloud Monitoring alert "${policy}"${summary}`.slice(0, MAX_REASON_LENGTH);
}

function parseIncident(
  json: Record<string, unknown>,
  partial: Partial<RequestCommon>,
  options: ParseOptions,
): ParseResult {
  const result = incidentNotificationSchema.safeParse(json);
  if (!result.success) {
    return reject(
      'ALERT',
      `invalid Cloud Monitoring notification: ${describeIssues(result.error)}`,
      partial,
    );
  }
  const { version, incident } = result.data;
  const incidentId = incident.incident_id == null ? undefined : String(incident.incident_id);
  const policyName = incident.policy_name ?? undefined;
  const common: RequestCommon = {
    reason: result.data.reason ?? incidentReason(incident),
    requestId: result.data.requestId,
    dryRun: result.data.dryRun ?? false,
    incidentId,
    policyName,
  };
  const ignore = (why: string): ParseResult => ({
    ok: true,
    request: { ...common, kind: 'ignore', source: 'ALERT', why },
  });
  if (version.toLowerCase() === 'test') {
    return ignore('console test notification: nothing is cancelled');
  }
  const state = incident.state.toLowerCase();
  if (state !== 'open') return ignore(`incident is ${state}: nothing to cancel`);

  const labels = incident.policy_user_labels ?? {};
  const failWith = (message: string) =>
    reject('ALERT', message, { ...partial, incidentId, policyName });
  const pipeline = optionalLabel(labels, LABEL_PIPELINE);
  if (pipeline === undefined) {
    return failWith(
      `alert policy has no ${LABEL_PIPELINE} user label: add it to name the delivery pipeline`,
    );
  }
  if (!RESOURCE_ID_PATTERN.test(pipeline)) {
    return failWith(`policy user label ${LABEL_PIPELINE} is not a pipeline id`);
  }
  const location = optionalLabel(labels, LABEL_LOCATION) ?? options.defaultLocation;
  if (location === undefined) {
    return failWith(
      `alert policy has no ${LABEL_LOCATION} user label and DEFAULT_LOCATION is not set`,
    );
  }
  if (!LOCATION_PATTERN.test(location))
    return failWith(`policy user label ${LABEL_LOCATION} is not a location`);
  const project =
    optionalLabel(labels, LABEL_PROJECT) ?? incident.scoping_project_id ?? options.defaultProject;
  if (project === undefined) {
    return failWith(
      `alert policy has no ${LABEL_PROJECT} user label, the incident has no scoping_project_id and GOOGLE_CLOUD_PROJECT is not set`,
    );
  }
  if (!PROJECT_PATTERN.test(project))
    return failWith(`policy user label ${LABEL_PROJECT} is not a project id`);
  const filterLabels = {
    targetId: optionalLabel(labels, LABEL_TARGET),
    automationId: optionalLabel(labels, LABEL_AUTOMATION),
    ruleId: optionalLabel(labels, LABEL_RULE),
  };
  for (const [field, label] of [
    ['targetId', LABEL_TARGET],
    ['automationId', LABEL_AUTOMATION],
    ['ruleId', LABEL_RULE],
  ] as const) {
    const value = filterLabels[field];
    if (value !== undefined && !RESOURCE_ID_PATTERN.test(value)) {
      return failWith(`policy user label ${label} is not a resource id`);
    }
  }
  return {
    ok: true,
    request: {
      ...common,
      kind: 'select',
      source: 'ALERT',
      pipelines: [pipelineName(project, location, pipeline)],
      filter: { states: CANCELLABLE_STATES, olderThanSeconds: undefined, ...filterLabels },
    },
  };
}
