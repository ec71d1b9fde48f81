import { createHash } from 'node:crypto';
import type { AuditEvent } from './audit-event';
import type { Decision } from './decision';
import type { Source } from './outcomes';

/** What the audit says of the request behind a decision. */
export interface RequestContext {
  readonly source: Source;
  readonly messageId: string | null;
  readonly publishTime: Date | null;
  readonly requestId: string | null;
  readonly incidentId: string | null;
  readonly policyName: string | null;
  readonly reason: string | null;
  readonly dryRun: boolean;
}

/**
 * Stable for (request message, subject): a redelivered message yields the same ids, so a
 * consumer that dedupes on `eventId` sees each decision once.
 */
export function auditEventId(messageId: string | null, subject: string | null): string {
  return createHash('sha256')
    .update(`${messageId ?? ''}\n${subject ?? ''}`)
    .digest('hex')
    .slice(0, 32);
}

export function buildAuditEvent(
  decision: Decision,
  request: RequestContext,
  time: Date,
): AuditEvent {
  return {
    eventId: auditEventId(request.messageId, decision.automationRun ?? decision.pipeline),
    time: time.toISOString(),
    outcome: decision.outcome,
    automationRun: decision.automationRun,
    pipeline: decision.pipeline,
    stateBefore: decision.stateBefore,
    stateAfter: decision.stateAfter,
    targetId: decision.targetId,
    automationId: decision.automationId,
    ruleId: decision.ruleId,
    reason: request.reason,
    dryRun: request.dryRun,
    request: {
      source: request.source,
      messageId: request.messageId,
      publishTime: request.publishTime?.toISOString() ?? null,
      requestId: request.requestId,
      incidentId: request.incidentId,
      policyName: request.policyName,
    },
    error: decision.error,
  };
}

/** Pub/Sub attributes, so subscribers can filter without parsing the data. */
export function auditAttributes(event: AuditEvent): Record<string, string> {
  const attributes: Record<string, string> = {
    outcome: event.outcome,
    source: event.request.source,
  };
  if (event.pipeline !== null) attributes.pipeline = event.pipeline;
  return attributes;
}
