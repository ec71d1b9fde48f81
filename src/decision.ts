import type { AutomationRun, RunState } from './automation-run';
import type { Outcome } from './outcomes';

/** One decision about one run, one pipeline, or the message as a whole. */
export interface Decision {
  readonly outcome: Outcome;
  readonly automationRun: string | null;
  readonly pipeline: string | null;
  readonly stateBefore: RunState | null;
  readonly stateAfter: RunState | null;
  readonly targetId: string | null;
  readonly automationId: string | null;
  readonly ruleId: string | null;
  readonly error: { readonly code: string; readonly message: string } | null;
}

const EMPTY: Decision = {
  outcome: 'FAILED',
  automationRun: null,
  pipeline: null,
  stateBefore: null,
  stateAfter: null,
  targetId: null,
  automationId: null,
  ruleId: null,
  error: null,
};

export function messageDecision(outcome: Outcome, message?: string): Decision {
  return { ...EMPTY, outcome, error: message === undefined ? null : { code: outcome, message } };
}

export function pipelineDecision(
  outcome: Outcome,
  pipeline: string,
  error: Decision['error'] = null,
): Decision {
  return { ...EMPTY, outcome, pipeline, error };
}

export function runDecision(
  outcome: Outcome,
  target: { readonly name: string; readonly pipeline: string },
  details: {
    readonly run?: AutomationRun | undefined;
    readonly stateBefore?: RunState | null;
    readonly stateAfter?: RunState | null;
    readonly error?: Decision['error'];
  } = {},
): Decision {
  const { run } = details;
  return {
    ...EMPTY,
    outcome,
    automationRun: target.name,
    pipeline: target.pipeline,
    stateBefore: details.stateBefore ?? run?.state ?? null,
    stateAfter: details.stateAfter ?? run?.state ?? null,
    targetId: run?.targetId ?? null,
    automationId: run?.automationId ?? null,
    ruleId: run?.ruleId ?? null,
    error: details.error ?? null,
  };
}
