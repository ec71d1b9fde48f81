import { describe, expect, it } from 'vitest';
import { buildAuditEvent } from '../src/audit-builder';
import { messageDecision } from '../src/decision';
import { UnpublishedAudits } from '../src/unpublished-audits';

const event = (messageId: string) =>
  buildAuditEvent(
    messageDecision('REJECTED'),
    {
      source: 'REQUEST',
      messageId,
      publishTime: null,
      requestId: null,
      incidentId: null,
      policyName: null,
      reason: null,
      dryRun: false,
    },
    new Date(0),
  );

describe('UnpublishedAudits', () => {
  it('hands back what was kept for a message once', () => {
    const kept = new UnpublishedAudits();
    kept.keep('m-1', [event('m-1')]);
    expect(kept.take('m-1')).toEqual([event('m-1')]);
    expect(kept.take('m-1')).toEqual([]);
  });

  it('keeps nothing without a message id or events', () => {
    const kept = new UnpublishedAudits();
    kept.keep(null, [event('x')]);
    kept.keep('m-1', []);
    expect(kept.size).toBe(0);
    expect(kept.take(null)).toEqual([]);
  });

  it('forgets the oldest message beyond its bound', () => {
    const kept = new UnpublishedAudits(2);
    kept.keep('m-1', [event('m-1')]);
    kept.keep('m-2', [event('m-2')]);
    kept.keep('m-3', [event('m-3')]);
    expect(kept.size).toBe(2);
    expect(kept.take('m-1')).toEqual([]);
    expect(kept.take('m-3')).toHaveLength(1);
  });
});
