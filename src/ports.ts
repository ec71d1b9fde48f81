import type { AuditEvent } from './audit-event';
import type { AutomationRun } from './automation-run';

/**
 * What the function needs from Cloud Deploy. Implementations throw {@link DeployApiError}
 * for every failed call, so decisions read one error shape whatever the transport.
 */
export interface DeployPort {
  getRun(name: string): Promise<AutomationRun>;
  /** Every run of one pipeline that matches an AIP-160 filter, all pages read. */
  listRuns(pipeline: string, filter: string): Promise<AutomationRun[]>;
  cancelRun(name: string): Promise<void>;
}

/** Publishes one audit event; resolves once Pub/Sub has accepted it. */
export interface AuditPort {
  publishAudit(event: AuditEvent): Promise<void>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
