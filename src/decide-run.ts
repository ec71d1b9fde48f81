import { type AutomationRun, isCancellableState } from './automation-run';
import { type Decision, runDecision } from './decision';
import { decideApiError, isAmbiguousCancelCode } from './error-policy';
import { DeployApiError } from './errors/deploy-api-error';
import { RetryableError } from './errors/retryable-error';
import type { DeployPort } from './ports';

export interface RunTarget {
  readonly name: string;
  readonly pipeline: string;
}

const errorOf = (error: DeployApiError) => ({ code: error.code, message: error.message });

/** Reads the run; a failure is either a decision or a thrown {@link RetryableError}. */
async function readRun(
  deploy: DeployPort,
  target: RunTarget,
): Promise<{ run: AutomationRun } | { decision: Decision }> {
  try {
    return { run: await deploy.getRun(target.name) };
  } catch (thrown) {
    const decided = decideApiError(thrown, 'GetAutomationRun');
    if (decided.retry) throw decided.error;
    return { decision: runDecision(decided.outcome, target, { error: errorOf(decided.error) }) };
  }
}

/**
 * The contract's per-run procedure (§4, after the allowlist): read the run, cancel it only
 * while PENDING or IN_PROGRESS, and settle every ambiguous answer by reading it again, so a
 * redelivered message finds the real state and no run is cancelled twice.
 */
export async function decideRun(
  deploy: DeployPort,
  target: RunTarget,
  options: { readonly dryRun: boolean },
): Promise<Decision> {
  const read = await readRun(deploy, target);
  if ('decision' in read) return read.decision;
  const { run } = read;
  if (!isCancellableState(run.state)) return runDecision('NOT_CANCELLABLE', target, { run });
  if (options.dryRun) return runDecision('DRY_RUN', target, { run });

  try {
    await deploy.cancelRun(target.name);
    return runDecision('CANCELLED', target, { run, stateAfter: 'CANCELLED' });
  } catch (thrown) {
    const error = DeployApiError.from('CancelAutomationRun', thrown);
    if (error.code !== 'FAILED_PRECONDITION' && error.code !== 'NOT_FOUND') {
      const decided = decideApiError(error, 'CancelAutomationRun');
      if (!decided.retry) {
        return runDecision(decided.outcome, target, { run, error: errorOf(decided.error) });
      }
    }
    return settleFailedCancel(deploy, target, run, error);
  }
}

/**
 * A cancel failed: read the run again to learn what happened. FAILED_PRECONDITION or
 * NOT_FOUND means the run finished or vanished in between. After a timeout or a lost
 * connection the cancel may still have taken effect: CANCELLED now means this call did it.
 * A run that is still cancellable is left to the redelivery.
 */
async function settleFailedCancel(
  deploy: DeployPort,
  target: RunTarget,
  before: AutomationRun,
  cancelError: DeployApiError,
): Promise<Decision> {
  const read = await readRun(deploy, target);
  if ('decision' in read) return { ...read.decision, stateBefore: before.state };
  const { run } = read;
  const states = { run, stateBefore: before.state, stateAfter: run.state };
  if (run.state === 'CANCELLED' && isAmbiguousCancelCode(cancelError.code)) {
    return runDecision('CANCELLED', target, states);
  }
  if (isCancellableState(run.state)) {
    throw new RetryableError(`${cancelError.message} (the run is still ${run.state})`, [
      cancelError,
    ]);
  }
  return runDecision('NOT_CANCELLABLE', target, { ...states, error: errorOf(cancelError) });
}
