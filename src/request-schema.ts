import * as z from 'zod';
import { CANCELLABLE_STATES } from './automation-run';
import { PIPELINE_NAME_PATTERN, RESOURCE_ID_PATTERN, RUN_NAME_PATTERN } from './resource-names';

/**
 * The request messages of the contract (§3), as zod schemas. `schema/*.schema.json` is
 * generated from these; the code validates with the same objects.
 */

/** The most bytes of message data the function reads. */
export const MAX_MESSAGE_BYTES = 64 * 1024;
export const MAX_NAMED_RUNS = 100;
export const MAX_SWEEP_PIPELINES = 100;
export const MAX_REASON_LENGTH = 1024;
export const MAX_REQUEST_ID_LENGTH = 128;
/** Automation runs expire 14 days after creation; a larger age can never match a live run. */
export const MAX_OLDER_THAN_SECONDS = 30 * 24 * 3600;

const common = {
  reason: z
    .string()
    .max(MAX_REASON_LENGTH, `must be at most ${MAX_REASON_LENGTH} characters`)
    .optional(),
  requestId: z
    .string()
    .min(1, 'must not be empty')
    .max(MAX_REQUEST_ID_LENGTH, `must be at most ${MAX_REQUEST_ID_LENGTH} characters`)
    .optional(),
  dryRun: z.boolean().optional(),
};

const runName = z
  .string()
  .regex(
    RUN_NAME_PATTERN,
    'must be projects/PROJECT/locations/LOCATION/deliveryPipelines/PIPELINE/automationRuns/RUN',
  )
  .describe('Full AutomationRun name.');

const pipelineName = z
  .string()
  .regex(
    PIPELINE_NAME_PATTERN,
    'must be projects/PROJECT/locations/LOCATION/deliveryPipelines/PIPELINE',
  )
  .describe('Full delivery pipeline name.');

const resourceId = z
  .string()
  .regex(RESOURCE_ID_PATTERN, 'must be a resource id: lower-case letters, digits and hyphens');

/** §3.1: cancel named runs. */
export const namedRunsRequestSchema = z
  .strictObject({
    automationRun: runName.optional(),
    automationRuns: z
      .array(runName)
      .min(1, 'must name at least one run')
      .max(MAX_NAMED_RUNS, `must name at most ${MAX_NAMED_RUNS} runs`)
      .optional(),
    ...common,
  })
  .refine(
    (request) => (request.automationRun === undefined) !== (request.automationRuns === undefined),
    {
      message: 'give exactly one of automationRun and automationRuns',
    },
  )
  .describe('Cancel named automation runs (source REQUEST).');
export type NamedRunsRequest = z.infer<typeof namedRunsRequestSchema>;

/** §3.2: select runs in pipelines, for scheduled clean-up. */
export const sweepRequestSchema = z
  .strictObject({
    pipeline: pipelineName.optional(),
    pipelines: z
      .array(pipelineName)
      .min(1, 'must name at least one pipeline')
      .max(MAX_SWEEP_PIPELINES, `must name at most ${MAX_SWEEP_PIPELINES} pipelines`)
      .optional(),
    olderThanSeconds: z
      .number()
      .int('must be a whole number of seconds')
      .min(0, 'must not be negative')
      .max(MAX_OLDER_THAN_SECONDS, `must be at most ${MAX_OLDER_THAN_SECONDS}`)
      .optional()
      .describe("Only runs created at least this long before the request's publish time."),
    states: z
      .array(z.enum(CANCELLABLE_STATES))
      .min(1, 'must list at least one state')
      .max(CANCELLABLE_STATES.length)
      .optional()
      .describe('Defaults to both cancellable states.'),
    targetId: resourceId.optional(),
    automationId: resourceId.optional(),
    ruleId: resourceId.optional(),
    ...common,
  })
  .refine((request) => (request.pipeline === undefined) !== (request.pipelines === undefined), {
    message: 'give exactly one of pipeline and pipelines',
  })
  .describe('Cancel the in-flight runs of pipelines that match filters (source SWEEP).');
export type SweepRequest = z.infer<typeof sweepRequestSchema>;

/**
 * §3.3: what a Cloud Monitoring Pub/Sub notification channel publishes. Only the fields the
 * decision reads are typed; everything else varies between alert kinds and is let through.
 * @see https://cloud.google.com/monitoring/support/notification-options#schema-pubsub
 */
export const incidentNotificationSchema = z
  .looseObject({
    version: z.string().describe('"1.2" for incidents, "test" for a console test notification.'),
    incident: z.looseObject({
      incident_id: z.union([z.string(), z.number()]).nullish(),
      state: z.string(),
      policy_name: z.string().nullish(),
      scoping_project_id: z.string().nullish(),
      summary: z.string().nullish(),
      policy_user_labels: z.record(z.string(), z.unknown()).nullish(),
    }),
    reason: common.reason,
    requestId: common.requestId,
    dryRun: common.dryRun,
  })
  .describe('Cloud Monitoring incident notification (source ALERT).');
export type IncidentNotification = z.infer<typeof incidentNotificationSchema>;
