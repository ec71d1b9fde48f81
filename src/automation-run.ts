/**
 * The slice of a Cloud Deploy AutomationRun that decisions need, independent of the SDK.
 * @see https://cloud.google.com/deploy/docs/api/reference/rest/v1/projects.locations.deliveryPipelines.automationRuns
 */
export const RUN_STATES = [
  'STATE_UNSPECIFIED',
  'SUCCEEDED',
  'CANCELLED',
  'FAILED',
  'IN_PROGRESS',
  'PENDING',
  'ABORTED',
] as const;
export type RunState = (typeof RUN_STATES)[number];

export const CANCELLABLE_STATES = ['PENDING', 'IN_PROGRESS'] as const;
export type CancellableState = (typeof CANCELLABLE_STATES)[number];

export function isRunState(value: unknown): value is RunState {
  return typeof value === 'string' && (RUN_STATES as readonly string[]).includes(value);
}

export function isCancellableState(value: unknown): value is CancellableState {
  return typeof value === 'string' && (CANCELLABLE_STATES as readonly string[]).includes(value);
}

export interface AutomationRun {
  /** `projects/P/locations/L/deliveryPipelines/D/automationRuns/R` */
  readonly name: string;
  readonly state: RunState;
  readonly createTime: Date | undefined;
  readonly updateTime: Date | undefined;
  readonly targetId: string | undefined;
  readonly automationId: string | undefined;
  readonly ruleId: string | undefined;
}
