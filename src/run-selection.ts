import { type AutomationRun, isCancellableState } from './automation-run';
import type { RunFilter } from './parse-request';

/**
 * Which runs a sweep or an alert selects. The selection is anchored at the request's own
 * time, not at the moment it is processed, so a redelivered message selects the same runs:
 * runs it already cancelled (cancelled at or after the anchor) still count towards
 * `MAX_RUNS_PER_EVENT`, and a retry can never widen the blast radius.
 */
export interface Selection {
  readonly filter: RunFilter;
  readonly anchor: Date;
}

const quote = (value: string) => JSON.stringify(value);

function createdBefore(selection: Selection): Date | undefined {
  const { olderThanSeconds } = selection.filter;
  if (olderThanSeconds === undefined) return undefined;
  return new Date(selection.anchor.getTime() - olderThanSeconds * 1000);
}

/** The AIP-160 filter sent with ListAutomationRuns; results are still checked locally. */
export function listFilter(selection: Selection): string {
  const { filter, anchor } = selection;
  const states = filter.states.map((state) => `state = ${quote(state)}`);
  states.push(`(state = "CANCELLED" AND update_time >= ${quote(anchor.toISOString())})`);
  const clauses = [`(${states.join(' OR ')})`];
  if (filter.targetId !== undefined) clauses.push(`target_id = ${quote(filter.targetId)}`);
  if (filter.automationId !== undefined)
    clauses.push(`automation_id = ${quote(filter.automationId)}`);
  if (filter.ruleId !== undefined) clauses.push(`rule_id = ${quote(filter.ruleId)}`);
  const before = createdBefore(selection);
  if (before !== undefined) clauses.push(`create_time <= ${quote(before.toISOString())}`);
  return clauses.join(' AND ');
}

/** Whether a listed run belongs to the selection (the list is never trusted alone). */
export function isSelected(run: AutomationRun, selection: Selection): boolean {
  const { filter, anchor } = selection;
  const stateMatches = isCancellableState(run.state)
    ? filter.states.includes(run.state)
    : run.state === 'CANCELLED' &&
      run.updateTime !== undefined &&
      run.updateTime.getTime() >= anchor.getTime();
  if (!stateMatches) return false;
  if (filter.targetId !== undefined && run.targetId !== filter.targetId) return false;
  if (filter.automationId !== undefined && run.automationId !== filter.automationId) return false;
  if (filter.ruleId !== undefined && run.ruleId !== filter.ruleId) return false;
  const before = createdBefore(selection);
  if (before !== undefined && (run.createTime === undefined || run.createTime > before))
    return false;
  return true;
}

/** Oldest first, then by name: a stable order so retries cap the same runs. */
export function compareRuns(left: AutomationRun, right: AutomationRun): number {
  const leftTime = left.createTime?.getTime() ?? 0;
  const rightTime = right.createTime?.getTime() ?? 0;
  if (leftTime !== rightTime) return leftTime - rightTime;
  return left.name < right.name ? -1 : left.name > right.name ? 1 : 0;
}
