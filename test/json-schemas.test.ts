import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonSchemas } from '../src/json-schemas';

describe('schema/*.schema.json', () => {
  it.each(Object.entries(jsonSchemas()))(
    '%s matches the zod schema (run `npm run schema` after a change)',
    (file, schema) => {
      const committed = JSON.parse(readFileSync(join(__dirname, '..', 'schema', file), 'utf8'));
      expect(committed).toEqual(schema);
    },
  );

  it('the audit schema lists every outcome and field of the contract', () => {
    const audit = jsonSchemas()['audit-event.schema.json'] as {
      properties: Record<string, { enum?: string[] }>;
    };
    expect(Object.keys(audit.properties)).toEqual([
      'eventId',
      'time',
      'outcome',
      'automationRun',
      'pipeline',
      'stateBefore',
      'stateAfter',
      'targetId',
      'automationId',
      'ruleId',
      'reason',
      'dryRun',
      'request',
      'error',
    ]);
    expect(audit.properties.outcome?.enum).toEqual([
      'CANCELLED',
      'DRY_RUN',
      'NOT_CANCELLABLE',
      'NOT_FOUND',
      'DENIED',
      'PERMISSION_DENIED',
      'REJECTED',
      'IGNORED',
      'EXPIRED',
      'LIMIT_EXCEEDED',
      'FAILED',
    ]);
  });
});
