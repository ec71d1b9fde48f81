import * as z from 'zod';
import { auditEventSchema } from './audit-event';
import {
  incidentNotificationSchema,
  namedRunsRequestSchema,
  sweepRequestSchema,
} from './request-schema';

/** The JSON Schema files shipped under `schema/`, generated from the zod schemas the code uses. */
export function jsonSchemas(): Record<string, unknown> {
  const toJson = (schema: z.ZodType, id: string, io: 'input' | 'output') => ({
    $id: id,
    ...z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any' }),
  });
  return {
    'cancel-request.schema.json': {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: 'cancel-request.schema.json',
      title: 'Request message for cancelAutomationRuns',
      description:
        'The data of a Pub/Sub message on the requests topic (UTF-8 JSON, at most 64 KiB).',
      oneOf: [
        toJson(namedRunsRequestSchema, 'named-runs-request', 'input'),
        toJson(sweepRequestSchema, 'sweep-request', 'input'),
        toJson(incidentNotificationSchema, 'incident-notification', 'input'),
      ],
    },
    'audit-event.schema.json': toJson(auditEventSchema, 'audit-event.schema.json', 'output'),
  };
}
