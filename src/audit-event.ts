import * as z from 'zod';
import { RUN_STATES } from './automation-run';
import { OUTCOMES, SOURCES } from './outcomes';

/**
 * The audit event: one Pub/Sub message on `AUDIT_TOPIC` per decision. This schema is the
 * source of `schema/audit-event.schema.json`; consumers validate against that file.
 */
export const auditEventSchema = z
  .object({
    eventId: z.string().describe('Stable for (request message id, run): a consumer dedupes on it.'),
    time: z.iso.datetime().describe('When the decision was made (RFC 3339, UTC).'),
    outcome: z.enum(OUTCOMES),
    automationRun: z.string().nullable().describe('Full name of the run decided, if any.'),
    pipeline: z.string().nullable().describe('Full name of the delivery pipeline, if known.'),
    stateBefore: z.enum(RUN_STATES).nullable().describe('The run state read before deciding.'),
    stateAfter: z.enum(RUN_STATES).nullable().describe('The run state after the decision.'),
    targetId: z.string().nullable(),
    automationId: z.string().nullable(),
    ruleId: z.string().nullable(),
    reason: z.string().nullable().describe("The request's reason, or the incident summary."),
    dryRun: z.boolean(),
    request: z
      .object({
        source: z.enum(SOURCES),
        messageId: z.string().nullable().describe('Pub/Sub message id of the request.'),
        publishTime: z.iso.datetime().nullable(),
        requestId: z.string().nullable().describe("The caller's own id, echoed."),
        incidentId: z.string().nullable().describe('Cloud Monitoring incident id (ALERT only).'),
        policyName: z.string().nullable().describe('Alert policy display name (ALERT only).'),
      })
      .strict(),
    error: z
      .object({
        code: z.string().describe('gRPC status name, or REJECTED / EXPIRED / ... for messages.'),
        message: z.string(),
      })
      .strict()
      .nullable(),
  })
  .strict()
  .describe('Audit event published by cancelAutomationRuns for every decision.');

export type AuditEvent = z.infer<typeof auditEventSchema>;
