import { describe, expect, it } from 'vitest';
import { CANCELLABLE_STATES } from '../src/automation-run';
import { compareRuns, isSelected, listFilter } from '../src/run-selection';
import { buildRun, runName } from './support/fakes';

const anchor = new Date('2026-12-04T10:00:00Z');
const filter = {
  states: CANCELLABLE_STATES,
  olderThanSeconds: undefined,
  targetId: undefined,
  automationId: undefined,
  ruleId: undefined,
};

describe('listFilter', () => {
  it('selects in-flight runs and those cancelled since the request', () => {
    expect(listFilter({ filter, anchor })).toBe(
      '(state = "PENDING" OR state = "IN_PROGRESS" OR (state = "CANCELLED" AND update_time >= "2026-12-04T10:00:00.000Z"))',
    );
  });

  it('adds every filter', () => {
    expect(
      listFilter({
        filter: {
          states: ['PENDING'],
          olderThanSeconds: 7200,
          targetId: 'prod',
          automationId: 'promote-to-prod',
          ruleId: 'promote',
        },
        anchor,
      }),
    ).toBe(
      '(state = "PENDING" OR (state = "CANCELLED" AND update_time >= "2026-12-04T10:00:00.000Z")) AND target_id = "prod" AND automation_id = "promote-to-prod" AND rule_id = "promote" AND create_time <= "2026-12-04T08:00:00.000Z"',
    );
  });
});

describe('isSelected', () => {
  it.each([
    [buildRun({ state: 'IN_PROGRESS' }), {}, true],
    [buildRun({ state: 'PENDING' }), { states: ['IN_PROGRESS'] as const }, false],
    [buildRun({ state: 'SUCCEEDED' }), {}, false],
    [buildRun({ state: 'CANCELLED', updateTime: new Date('2026-12-04T10:00:00Z') }), {}, true],
    [buildRun({ state: 'CANCELLED', updateTime: new Date('2026-12-04T09:59:59Z') }), {}, false],
    [buildRun({ state: 'CANCELLED', updateTime: undefined }), {}, false],
    [buildRun({ targetId: 'staging' }), { targetId: 'prod' }, false],
    [buildRun({ automationId: 'other' }), { automationId: 'promote-to-prod' }, false],
    [buildRun({ ruleId: 'other' }), { ruleId: 'promote' }, false],
    [buildRun({ createTime: new Date('2026-12-04T08:00:00Z') }), { olderThanSeconds: 7200 }, true],
    [buildRun({ createTime: new Date('2026-12-04T08:00:01Z') }), { olderThanSeconds: 7200 }, false],
    [buildRun({ createTime: undefined }), { olderThanSeconds: 7200 }, false],
  ])('%#: selects %j with %j: %s', (run, overrides, expected) => {
    expect(isSelected(run, { filter: { ...filter, ...overrides }, anchor })).toBe(expected);
  });
});

describe('compareRuns', () => {
  it('orders oldest first, then by name', () => {
    const runs = [
      buildRun({ name: runName('b'), createTime: new Date(2) }),
      buildRun({ name: runName('c'), createTime: new Date(1) }),
      buildRun({ name: runName('a'), createTime: new Date(2) }),
    ];
    expect(runs.sort(compareRuns).map((run) => run.name)).toEqual([
      runName('c'),
      runName('a'),
      runName('b'),
    ]);
  });
});
