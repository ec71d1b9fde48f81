import { describe, expect, it } from 'vitest';
import {
  evaluateFilter,
  type FilterFields,
  FilterSyntaxError,
  type FilterValue,
  parseFilter,
} from '../../src/emulator/aip160-filter';

const FIELDS: FilterFields = {
  name: { kind: 'string' },
  state: { kind: 'enum', values: ['PENDING', 'IN_PROGRESS', 'CANCELLED', 'SUCCEEDED'] },
  target_id: { kind: 'string' },
  create_time: { kind: 'timestamp' },
  update_time: { kind: 'timestamp' },
};

interface Resource {
  name: string;
  state: string;
  target_id: string;
  create_time: Date | undefined;
  update_time: Date | undefined;
}

function buildResource(overrides: Partial<Resource> = {}): Resource {
  return {
    name: 'runs/a',
    state: 'PENDING',
    target_id: 'prod',
    create_time: new Date('2026-12-04T08:00:00Z'),
    update_time: new Date('2026-12-04T09:00:00Z'),
    ...overrides,
  };
}

function matches(filter: string, resource: Resource): boolean {
  const expression = parseFilter(filter, FIELDS);
  return evaluateFilter(expression, (field) => resource[field as keyof Resource] as FilterValue);
}

describe('parseFilter and evaluateFilter', () => {
  const pending = buildResource();
  const cancelledLate = buildResource({
    name: 'runs/b',
    state: 'CANCELLED',
    update_time: new Date('2026-12-04T10:30:00Z'),
  });
  const staging = buildResource({ name: 'runs/c', target_id: 'staging' });

  it.each([
    ['', pending, true],
    ['   ', pending, true],
    ['state = "PENDING"', pending, true],
    ['state = "PENDING"', cancelledLate, false],
    ['state != "PENDING"', cancelledLate, true],
    ['targetId = "prod"', pending, true],
    ['target_id = "prod"', staging, false],
    ['target_id < "qa"', pending, true],
    ['target_id > "qa"', staging, true],
    ['target_id >= "staging"', staging, true],
    ['target_id <= "prod"', pending, true],
    ['name = "runs/a"', pending, true],
    ['create_time = "2026-12-04T08:00:00Z"', pending, true],
    ['create_time = "2026-12-04T09:00:00+01:00"', pending, true],
    ['create_time = "2026-12-04T08:00:00.000000000Z"', pending, true],
    ['create_time < "2026-12-04T08:00:00.001Z"', pending, true],
    ['create_time <= "2026-12-04T08:00:00Z"', pending, true],
    ['create_time > "2026-12-04T08:00:00Z"', pending, false],
    ['createTime >= "2026-12-04T08:00:00Z"', pending, true],
    ['update_time != "2026-12-04T09:00:00Z"', pending, false],
    ['state = "PENDING" AND target_id = "prod"', pending, true],
    ['state = "PENDING" AND target_id = "prod"', staging, false],
    ['state = "PENDING" target_id = "prod"', staging, false],
    ['state = "CANCELLED" OR target_id = "staging"', staging, true],
    ['NOT state = "PENDING"', pending, false],
    ['-state = "PENDING"', cancelledLate, true],
    ['NOT (state = "PENDING" OR state = "IN_PROGRESS")', cancelledLate, true],
    ['-(target_id = "prod")', staging, true],
    // AIP-160: OR binds tighter than AND.
    ['state = "CANCELLED" AND target_id = "x" OR target_id = "prod"', cancelledLate, true],
    ['state = "SUCCEEDED" AND target_id = "x" OR target_id = "prod"', pending, false],
    ['((state = "PENDING"))', pending, true],
    ['name = "with \\"quotes\\" and \\\\"', buildResource({ name: 'with "quotes" and \\' }), true],
  ])('%s', (filter, resource, expected) => {
    expect(matches(filter, resource)).toBe(expected);
  });

  it('evaluates the filter the function sends for a sweep', () => {
    const filter =
      '(state = "PENDING" OR state = "IN_PROGRESS" OR (state = "CANCELLED" AND update_time >= "2026-12-04T10:00:00Z")) AND target_id = "prod" AND create_time <= "2026-12-04T08:00:00Z"';
    expect(matches(filter, pending)).toBe(true);
    expect(matches(filter, cancelledLate)).toBe(true);
    expect(matches(filter, buildResource({ state: 'CANCELLED' }))).toBe(false);
    expect(matches(filter, staging)).toBe(false);
    expect(matches(filter, buildResource({ create_time: new Date('2026-12-04T08:00:01Z') }))).toBe(
      false,
    );
  });

  it('treats an unset timestamp as equal to nothing', () => {
    const unset = buildResource({ update_time: undefined });
    expect(matches('update_time >= "2000-01-01T00:00:00Z"', unset)).toBe(false);
    expect(matches('update_time < "2100-01-01T00:00:00Z"', unset)).toBe(false);
    expect(matches('update_time != "2000-01-01T00:00:00Z"', unset)).toBe(true);
  });

  it('builds the tree with AIP-160 precedence', () => {
    expect(parseFilter('state = "PENDING" AND NOT target_id = "a" OR name = "b"', FIELDS)).toEqual({
      kind: 'and',
      operands: [
        { kind: 'compare', field: 'state', comparator: '=', value: 'PENDING' },
        {
          kind: 'or',
          operands: [
            {
              kind: 'not',
              operand: { kind: 'compare', field: 'target_id', comparator: '=', value: 'a' },
            },
            { kind: 'compare', field: 'name', comparator: '=', value: 'b' },
          ],
        },
      ],
    });
  });

  it.each([
    ['state = PENDING', /double-quoted value/],
    ['state', /expected a comparator/],
    ['state =', /double-quoted value .* end of the filter/],
    ['= "PENDING"', /expected a field name/],
    ['state == "PENDING"', /double-quoted value/],
    ['state ! "PENDING"', /"!" must be followed by "="/],
    ['state : "PENDING"', /unexpected character ":"/],
    ['state = "PENDING', /unterminated string/],
    ['state = "\\n"', /may be escaped/],
    ['color = "red"', /unknown field "color"/],
    ['state = "RUNNING"', /not a value of "state"/],
    ['create_time > "yesterday"', /RFC 3339/],
    ['create_time > "2026-12-04"', /RFC 3339/],
    ['create_time > "2026-13-45T99:00:00Z"', /RFC 3339/],
    ['(state = "PENDING"', /expected "\)"/],
    ['state = "PENDING")', /unexpected "\)"/],
    ['state = "PENDING" AND', /expected a field name/],
    ['OR state = "PENDING"', /expected a field name/],
    ['NOT', /expected a field name/],
    ['state = "PENDING" AND AND state = "FAILED"', /expected a field name/],
  ])('rejects %s', (filter, message) => {
    let error: unknown;
    try {
      parseFilter(filter, FIELDS);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(FilterSyntaxError);
    expect((error as FilterSyntaxError).message).toMatch(message);
    expect((error as FilterSyntaxError).position).toBeGreaterThanOrEqual(0);
  });

  it('reports where the problem is', () => {
    expect(() => parseFilter('state = "PENDING" AND color = "x"', FIELDS)).toThrow(
      /at position 22: unknown field "color"/,
    );
  });
});
