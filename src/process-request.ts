import type { AutomationRun } from './automation-run';
import { settleWithConcurrency } from './concurrency';
import { decideRun, type RunTarget } from './decide-run';
import { type Decision, pipelineDecision, runDecision } from './decision';
import { decideApiError } from './error-policy';
import { DeployApiError } from './errors/deploy-api-error';
import { RetryableError } from './errors/retryable-error';
import type { CancelRequest } from './parse-request';
import type { DeployPort } from './ports';
import { isAllowedPipeline, type PipelinePattern, parseRunName } from './resource-names';
import { compareRuns, isSelected, listFilter, type Selection } from './run-selection';

export interface ProcessOptions {
  readonly allowedPipelines: readonly PipelinePattern[];
  readonly maxRuns: number;
  readonly concurrency: number;
  readonly dryRun: boolean;
  /** What sweep ages and "cancelled since" are measured from: the request's own time. */
  readonly anchor: Date;
  /** No new run is started after this instant; the rest waits for redelivery. */
  readonly deadline: Date;
  readonly now: () => Date;
}

/** Receives each decision as soon as it is made, so its audit can be published at once. */
export type DecisionSink = (decision: Decision) => void;

/**
 * Decides every run a request names or selects and hands each decision to `sink`.
 * Transient failures do not stop the other runs; they are thrown together at the end as
 * one {@link RetryableError}, after every decision that could be made was made.
 */
export async function processRequest(
  request: Extract<CancelRequest, { kind: 'named' | 'select' }>,
  deploy: DeployPort,
  options: ProcessOptions,
  sink: DecisionSink,
): Promise<void> {
  const failures: unknown[] = [];
  const targets =
    request.kind === 'named'
      ? namedTargets(request.runs, options, sink)
      : await selectTargets(request.pipelines, request.filter, deploy, options, sink, failures);

  const allowed = targets.slice(0, options.maxRuns);
  for (const { target, listed } of targets.slice(options.maxRuns)) {
    sink(runDecision('LIMIT_EXCEEDED', target, { run: listed }));
  }
  const results = await settleWithConcurrency(allowed, options.concurrency, async ({ target }) => {
    if (options.now() > options.deadline) {
      throw new RetryableError(
        'time budget for this message is used up; the rest is left to redelivery',
      );
    }
    sink(await decideRun(deploy, target, { dryRun: options.dryRun }));
  });
  for (const result of results) {
    if (result.status === 'rejected') failures.push(result.reason);
  }
  if (failures.length > 0) {
    const first = failures[0];
    throw new RetryableError(
      `${failures.length} transient failure${failures.length > 1 ? 's' : ''}: ${first instanceof Error ? first.message : String(first)}`,
      failures,
    );
  }
}

interface Candidate {
  readonly target: RunTarget;
  readonly listed: AutomationRun | undefined;
}

function namedTargets(
  runs: readonly string[],
  options: ProcessOptions,
  sink: DecisionSink,
): Candidate[] {
  const candidates: Candidate[] = [];
  for (const name of runs) {
    const parsed = parseRunName(name);
    // The schema accepted only valid names; a miss here is a programming error.
    if (parsed === undefined) throw new Error(`unparsable run name passed validation: ${name}`);
    const target = { name, pipeline: parsed.pipelineName };
    if (!isAllowedPipeline(target.pipeline, options.allowedPipelines)) {
      sink(runDecision('DENIED', target, { error: deniedError(target.pipeline) }));
      continue;
    }
    candidates.push({ target, listed: undefined });
  }
  return candidates;
}

function deniedError(pipeline: string) {
  return { code: 'DENIED', message: `pipeline ${pipeline} is not in ALLOWED_PIPELINES` };
}

async function selectTargets(
  pipelines: readonly string[],
  filter: Selection['filter'],
  deploy: DeployPort,
  options: ProcessOptions,
  sink: DecisionSink,
  failures: unknown[],
): Promise<Candidate[]> {
  const selection: Selection = { filter, anchor: options.anchor };
  const allowed = pipelines.filter((pipeline) => {
    if (isAllowedPipeline(pipeline, options.allowedPipelines)) return true;
    sink(pipelineDecision('DENIED', pipeline, deniedError(pipeline)));
    return false;
  });
  const listed = await settleWithConcurrency(allowed, options.concurrency, async (pipeline) => {
    try {
      return await listSelected(deploy, pipeline, selection);
    } catch (thrown) {
      const decided = decideApiError(thrown, 'ListAutomationRuns');
      if (decided.retry) throw decided.error;
      sink(
        pipelineDecision(decided.outcome, pipeline, {
          code: decided.error.code,
          message: decided.error.message,
        }),
      );
      // Already decided: the pipeline as a whole is audited.
      return undefined;
    }
  });
  const candidates: Candidate[] = [];
  const nothingSelected: string[] = [];
  listed.forEach((result, index) => {
    if (result.status === 'rejected') {
      failures.push(result.reason);
      return;
    }
    if (result.value === undefined) return;
    const pipeline = allowed[index] as string;
    const runs = result.value
      .filter(
        (run) => parseRunName(run.name)?.pipelineName === pipeline && isSelected(run, selection),
      )
      .sort(compareRuns);
    // A pipeline with nothing to cancel is still a decision: every message ends audited.
    if (runs.length === 0) nothingSelected.push(pipeline);
    for (const run of runs) candidates.push({ target: { name: run.name, pipeline }, listed: run });
  });
  // A pipeline that could not be listed is retried as a whole, so nothing is capped early.
  if (failures.length > 0) return [];
  for (const pipeline of nothingSelected) {
    sink(
      pipelineDecision('IGNORED', pipeline, {
        code: 'IGNORED',
        message: `no run matched the selection: ${describeFilter(filter)}`,
      }),
    );
  }
  return candidates;
}

/**
 * Lists with the server-side filter, and without one if the API refuses the filter: every
 * listed run is checked locally anyway, so the filter only saves transfer.
 */
async function listSelected(deploy: DeployPort, pipeline: string, selection: Selection) {
  try {
    return await deploy.listRuns(pipeline, listFilter(selection));
  } catch (thrown) {
    if (DeployApiError.from('ListAutomationRuns', thrown).code !== 'INVALID_ARGUMENT') throw thrown;
    return deploy.listRuns(pipeline, '');
  }
}

function describeFilter(filter: Selection['filter']): string {
  const parts = [`state ${filter.states.join(' or ')}`];
  if (filter.targetId !== undefined) parts.push(`target ${filter.targetId}`);
  if (filter.automationId !== undefined) parts.push(`automation ${filter.automationId}`);
  if (filter.ruleId !== undefined) parts.push(`rule ${filter.ruleId}`);
  if (filter.olderThanSeconds !== undefined) parts.push(`older than ${filter.olderThanSeconds} s`);
  return parts.join(', ');
}
