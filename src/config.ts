import * as z from 'zod';
import { LOCATION_PATTERN, PipelinePattern, PROJECT_PATTERN } from './resource-names';

/**
 * Every environment variable the function reads. `deployed` marks those a deployment sets;
 * the emulator hosts are for local runs and tests only. Terraform is checked against this list.
 */
export const CONFIG_VARIABLES = {
  AUDIT_TOPIC: { required: true, deployed: true },
  ALLOWED_PIPELINES: { required: true, deployed: true },
  DRY_RUN: { required: false, deployed: true },
  MAX_RUNS_PER_EVENT: { required: false, deployed: true },
  MAX_EVENT_AGE_SECONDS: { required: false, deployed: true },
  DEFAULT_LOCATION: { required: false, deployed: true },
  GOOGLE_CLOUD_PROJECT: { required: false, deployed: true },
  RUN_CONCURRENCY: { required: false, deployed: true },
  FUNCTION_TIMEOUT_SECONDS: { required: false, deployed: true },
  CLOUD_DEPLOY_EMULATOR_HOST: { required: false, deployed: false },
  PUBSUB_EMULATOR_HOST: { required: false, deployed: false },
} as const satisfies Record<string, { required: boolean; deployed: boolean }>;
export type ConfigVariable = keyof typeof CONFIG_VARIABLES;

const TOPIC_NAME = /^projects\/[^/\s]+\/topics\/[A-Za-z][A-Za-z0-9._~+%-]{2,254}$/;
const HOST_PORT = /^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/;

const emptyAsUndefined = (value: unknown) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

const booleanFlag = z.preprocess(
  emptyAsUndefined,
  z
    .string()
    .regex(/^(true|false)$/i, 'must be "true" or "false"')
    .transform((value) => value.toLowerCase() === 'true')
    .optional(),
);

const integer = (min: number, max: number) =>
  z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^[0-9]+$/, `must be a whole number from ${min} to ${max}`)
      .transform(Number)
      .pipe(z.number().int().min(min).max(max))
      .optional(),
  );

const optionalString = (pattern: RegExp, description: string) =>
  z.preprocess(emptyAsUndefined, z.string().regex(pattern, description).optional());

const environmentSchema = z.object({
  AUDIT_TOPIC: z
    .string({ error: 'is required' })
    .regex(TOPIC_NAME, 'must be a topic name: projects/PROJECT/topics/TOPIC'),
  ALLOWED_PIPELINES: z.string({ error: 'is required' }).transform((value, context) => {
    const entries = value
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
    if (entries.length === 0) {
      context.addIssue({ code: 'custom', message: 'must list at least one pipeline pattern' });
      return z.NEVER;
    }
    const patterns: PipelinePattern[] = [];
    for (const entry of entries) {
      const pattern = PipelinePattern.parse(entry);
      if (pattern === undefined) {
        context.addIssue({
          code: 'custom',
          message: `"${entry}" is not a pattern projects/P/locations/L/deliveryPipelines/D (each part an id or *)`,
        });
        return z.NEVER;
      }
      patterns.push(pattern);
    }
    return patterns;
  }),
  DRY_RUN: booleanFlag,
  MAX_RUNS_PER_EVENT: integer(1, 1000),
  MAX_EVENT_AGE_SECONDS: integer(1, 7 * 24 * 3600),
  DEFAULT_LOCATION: optionalString(LOCATION_PATTERN, 'must be a location such as us-central1'),
  GOOGLE_CLOUD_PROJECT: optionalString(PROJECT_PATTERN, 'must be a project id'),
  RUN_CONCURRENCY: integer(1, 100),
  FUNCTION_TIMEOUT_SECONDS: integer(10, 3600),
  CLOUD_DEPLOY_EMULATOR_HOST: optionalString(HOST_PORT, 'must be host:port'),
  PUBSUB_EMULATOR_HOST: optionalString(HOST_PORT, 'must be host:port'),
} satisfies Record<ConfigVariable, z.ZodType>);

export interface Config {
  readonly auditTopic: string;
  readonly allowedPipelines: readonly PipelinePattern[];
  readonly dryRun: boolean;
  readonly maxRunsPerEvent: number;
  readonly maxEventAgeSeconds: number;
  readonly defaultLocation: string | undefined;
  readonly project: string | undefined;
  /** How many runs of one message are decided at once (Cloud Deploy calls in flight). */
  readonly runConcurrency: number;
  /** The deployed function's timeout: one message's work must end inside it. */
  readonly functionTimeoutSeconds: number;
  readonly cloudDeployEmulatorHost: string | undefined;
  readonly pubsubEmulatorHost: string | undefined;
}

export const CONFIG_DEFAULTS = {
  dryRun: false,
  maxRunsPerEvent: 50,
  maxEventAgeSeconds: 3600,
  runConcurrency: 10,
  /** What a gen2 function gets when its deployment sets no timeout. */
  functionTimeoutSeconds: 60,
} as const;

/** A configuration that cannot run; its message is one line naming each bad variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly variables: readonly string[];

  constructor(problems: readonly { variable: string; message: string }[]) {
    super(
      `Invalid configuration: ${problems.map((problem) => `${problem.variable} ${problem.message}`).join('; ')}`,
    );
    this.variables = problems.map((problem) => problem.variable);
  }
}

/** Parses the function's configuration from an environment (by default `process.env`). */
export function parseConfig(environment: NodeJS.ProcessEnv = process.env): Config {
  const result = environmentSchema.safeParse(environment);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? 'environment'),
        message: issue.message,
      })),
    );
  }
  const values = result.data;
  return {
    auditTopic: values.AUDIT_TOPIC,
    allowedPipelines: values.ALLOWED_PIPELINES,
    dryRun: values.DRY_RUN ?? CONFIG_DEFAULTS.dryRun,
    maxRunsPerEvent: values.MAX_RUNS_PER_EVENT ?? CONFIG_DEFAULTS.maxRunsPerEvent,
    maxEventAgeSeconds: values.MAX_EVENT_AGE_SECONDS ?? CONFIG_DEFAULTS.maxEventAgeSeconds,
    defaultLocation: values.DEFAULT_LOCATION,
    project: values.GOOGLE_CLOUD_PROJECT,
    runConcurrency: values.RUN_CONCURRENCY ?? CONFIG_DEFAULTS.runConcurrency,
    functionTimeoutSeconds:
      values.FUNCTION_TIMEOUT_SECONDS ?? CONFIG_DEFAULTS.functionTimeoutSeconds,
    cloudDeployEmulatorHost: values.CLOUD_DEPLOY_EMULATOR_HOST,
    pubsubEmulatorHost: values.PUBSUB_EMULATOR_HOST,
  };
}
