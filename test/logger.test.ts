import { describe, expect, it } from 'vitest';
import { buildAuditEvent } from '../src/audit-builder';
import { messageDecision, runDecision } from '../src/decision';
import { createLogger } from '../src/logger';
import { buildRun, PIPELINE, runName } from './support/fakes';

const request = {
  source: 'REQUEST' as const,
  messageId: 'm-1',
  publishTime: new Date('2026-12-04T10:00:00Z'),
  requestId: 'ticket\r\n{"severity":"CRITICAL"}',
  incidentId: null,
  policyName: null,
  reason: 'line one\nline two\u0000\u001b[31m\u2028\u2029\u0085 end',
  dryRun: false,
};

function capture() {
  const lines: string[] = [];
  return { lines, logger: createLogger((line) => lines.push(line)) };
}

describe('createLogger', () => {
  it('writes one JSON line per decision in the shape Cloud Logging reads', () => {
    const { lines, logger } = capture();
    const event = buildAuditEvent(
      runDecision(
        'CANCELLED',
        { name: runName('r1'), pipeline: PIPELINE },
        { run: buildRun({ name: runName('r1') }), stateAfter: 'CANCELLED' },
      ),
      request,
      new Date('2026-12-04T10:00:01Z'),
    );
    logger.decision(event);
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0] as string);
    expect(entry).toMatchObject({
      severity: 'NOTICE',
      message: `CANCELLED ${runName('r1')}`,
      outcome: 'CANCELLED',
      source: 'REQUEST',
      pipeline: PIPELINE,
      eventId: event.eventId,
      'logging.googleapis.com/labels': { outcome: 'CANCELLED', source: 'REQUEST' },
    });
  });

  it('keeps control characters and line separators of request data inside one escaped line', () => {
    const { lines, logger } = capture();
    logger.decision(
      buildAuditEvent(messageDecision('REJECTED', 'bad \n message'), request, new Date()),
    );
    expect(lines).toHaveLength(1);
    const line = lines[0] as string;
    for (const character of ['\n', '\r', '\u0000', '\u001b', '\u2028', '\u2029', '\u0085'])
      expect(line).not.toContain(character);
    const entry = JSON.parse(line);
    expect(entry.reason).toBe(request.reason);
    expect(entry.request.requestId).toBe(request.requestId);
    expect(entry.severity).toBe('WARNING');
  });

  it.each([
    ['FAILED', 'ERROR'],
    ['PERMISSION_DENIED', 'ERROR'],
    ['DRY_RUN', 'INFO'],
    ['LIMIT_EXCEEDED', 'WARNING'],
  ] as const)('logs %s at %s', (outcome, severity) => {
    const { lines, logger } = capture();
    logger.decision(buildAuditEvent(messageDecision(outcome), request, new Date()));
    expect(JSON.parse(lines[0] as string).severity).toBe(severity);
  });

  it('logs a retry as one WARNING line with its failures', () => {
    const { lines, logger } = capture();
    logger.retry('1 transient failure', [
      Object.assign(new Error('x\ny'), { code: 'UNAVAILABLE' }),
      'plain',
    ]);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toEqual({
      severity: 'WARNING',
      message: 'retrying: 1 transient failure',
      failures: [{ name: 'Error', message: 'x\ny', code: 'UNAVAILABLE' }, { message: 'plain' }],
    });
  });
});
