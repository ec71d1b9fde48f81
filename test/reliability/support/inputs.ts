import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { AuditEvent } from '../../../src/audit-event';
import { auditEventSchema } from '../../../src/audit-event';
import type { AutomationRun } from '../../../src/automation-run';
import { createCancelHandler } from '../../../src/handler';
import { createLogger } from '../../../src/logger';
import {
  buildConfig,
  buildEvent,
  buildRun,
  FakeDeploy,
  FixedClock,
  RecordingAudit,
} from '../../support/fakes';
import { ALLOWED_PATTERNS, forbiddenCalls, pipelineOf, runOf } from './stack';

/** Valid shapes of every kind, and the hostile and broken inputs derived from them. */

const fixture = (file: string) =>
  JSON.parse(
    readFileSync(join(__dirname, '..', '..', 'fixtures', 'monitoring', file), 'utf8'),
  ) as Record<string, unknown>;

export const CHECKOUT = pipelineOf('checkout');
export const WEB = 'projects/my-proj/locations/us-central1/deliveryPipelines/web';
export const SEEDED_RUNS = [
  buildRun({ name: runOf(CHECKOUT, 'run-1'), state: 'IN_PROGRESS' }),
  buildRun({ name: runOf(CHECKOUT, 'run-2'), state: 'PENDING' }),
  buildRun({ name: runOf(CHECKOUT, 'done'), state: 'SUCCEEDED' }),
  buildRun({ name: runOf(WEB, 'web-1'), state: 'IN_PROGRESS', targetId: 'staging' }),
];

export const VALID_SHAPES: readonly Record<string, unknown>[] = [
  { automationRun: runOf(CHECKOUT, 'run-1'), reason: 'bad canary', requestId: 'ticket-1' },
  { automationRuns: [runOf(CHECKOUT, 'run-1'), runOf(CHECKOUT, 'run-2'), runOf(WEB, 'web-1')] },
  { automationRun: runOf(CHECKOUT, 'nobody'), dryRun: true },
  { pipeline: CHECKOUT, reason: 'nightly' },
  {
    pipelines: [CHECKOUT, WEB],
    olderThanSeconds: 60,
    states: ['PENDING', 'IN_PROGRESS'],
    targetId: 'prod',
    automationId: 'promote-to-prod',
    ruleId: 'promote',
    requestId: 'sweep-1',
    dryRun: false,
  },
  fixture('incident-open.json'),
  fixture('incident-closed.json'),
  fixture('incident-console-test.json'),
  fixture('incident-log-match-no-labels.json'),
];

/** Keys that have tripped JavaScript parsers and mergers before. */
export const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'];

/** Strings that are awkward in logs, names and JSON. */
export const AWKWARD_STRINGS = [
  '',
  ' ',
  '\r\n{"severity":"CRITICAL","message":"forged"}\r\n',
  '\u0000',
  '\u001b[31mred\u001b[0m',
  'line\u2028separator\u2029paragraph',
  '\u0085next line',
  '\ud800',
  '\udfff\ud800',
  '👩‍👩‍👧‍👦',
  'ｃｈｅｃｋｏｕｔ',
  'сheckout',
  '..',
  '%2F',
  '*',
  '"; DROP TABLE',
  'state = "SUCCEEDED" OR state = "PENDING"',
  'a'.repeat(1024),
  'a'.repeat(1025),
  'é'.repeat(1024),
];

const jsonValue = fc.jsonValue({ maxDepth: 4 });
const awkward = fc.oneof(
  fc.constantFrom(...AWKWARD_STRINGS),
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.string({ unit: 'grapheme', maxLength: 64 }),
);
const anyValue = fc.oneof(
  jsonValue,
  awkward,
  fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, [], {}, [[]], { a: {} }),
  fc.array(awkward, { maxLength: 3 }),
  fc
    .integer({ min: 0, max: 120 })
    .map((length) => Array.from({ length }, (_, index) => runOf(CHECKOUT, `r${index}`))),
);

type Path = readonly string[];
/** Every path in a value (objects only), so mutations reach nested incident fields too. */
function pathsOf(value: unknown, prefix: Path = []): Path[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  return Object.keys(value).flatMap((key) => [
    [...prefix, key],
    ...pathsOf((value as Record<string, unknown>)[key], [...prefix, key]),
  ]);
}

type Mutation =
  | { readonly kind: 'drop'; readonly pick: number }
  | { readonly kind: 'replace'; readonly pick: number; readonly value: unknown }
  | { readonly kind: 'add'; readonly pick: number; readonly key: string; readonly value: unknown }
  | { readonly kind: 'duplicate'; readonly pick: number; readonly value: unknown };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('drop' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('replace' as const), pick: fc.nat(), value: anyValue }),
  fc.record({
    kind: fc.constant('add' as const),
    pick: fc.nat(),
    key: fc.oneof(fc.constantFrom(...HOSTILE_KEYS), fc.string({ maxLength: 12 })),
    value: anyValue,
  }),
  fc.record({ kind: fc.constant('duplicate' as const), pick: fc.nat(), value: anyValue }),
);

/** Defines an own property as JSON.parse would, even for `__proto__`. */
function defineOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function containerAt(
  root: Record<string, unknown>,
  path: Path,
): Record<string, unknown> | undefined {
  let node: unknown = root;
  for (const key of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return typeof node === 'object' && node !== null && !Array.isArray(node)
    ? (node as Record<string, unknown>)
    : undefined;
}

/** Applies mutations to a copy of `base` and returns the message text (keys may repeat). */
export function mutate(base: Record<string, unknown>, mutations: readonly Mutation[]): string {
  const copy = structuredClone(base);
  const duplicates: string[] = [];
  for (const change of mutations) {
    const paths = pathsOf(copy);
    const path = paths[change.pick % Math.max(1, paths.length)] ?? [];
    const parent = containerAt(copy, path.slice(0, -1));
    const key = path.at(-1);
    if (change.kind === 'add') {
      const target = containerAt(copy, path) ?? copy;
      defineOwn(target, change.key, change.value);
    } else if (parent !== undefined && key !== undefined) {
      if (change.kind === 'drop') delete parent[key];
      else if (change.kind === 'replace') defineOwn(parent, key, change.value);
      else if (path.length === 1)
        duplicates.push(`${JSON.stringify(key)}:${JSON.stringify(change.value) ?? 'null'}`);
    }
  }
  const text = JSON.stringify(copy);
  // A repeated key can only be written as text: JSON.parse keeps the last one.
  if (duplicates.length === 0 || !text.startsWith('{') || text === '{}') return text;
  return `{${duplicates.join(',')},${text.slice(1)}`;
}

/** Message data as the function receives it: base64 of the bytes, or raw (possibly invalid) text. */
export type RawData = { readonly base64: string } | { readonly raw: string };
export const asData = (text: string | Uint8Array): RawData => ({
  base64: Buffer.from(text).toString('base64'),
});

export const randomBytes = fc.uint8Array({ maxLength: 4096 }).map(asData);
export const notBase64 = fc.string({ unit: 'binary', maxLength: 200 }).map((raw) => ({ raw }));
export const randomJsonText = fc.json({ maxDepth: 6 }).map(asData);
export const randomObjects = fc
  .dictionary(
    fc.oneof(
      fc.constantFrom(...HOSTILE_KEYS, 'automationRun', 'pipeline', 'incident', 'version'),
      fc.string({ maxLength: 10 }),
    ),
    anyValue,
    { maxKeys: 6 },
  )
  .map((value) => asData(JSON.stringify(value)));
export const mutatedShapes = fc
  .record({
    base: fc.constantFrom(...VALID_SHAPES),
    mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }),
  })
  .map(({ base, mutations }) => asData(mutate(base, mutations)));
export const unicodeFields = fc
  .record({
    base: fc.constantFrom(...VALID_SHAPES),
    reason: awkward,
    requestId: awkward,
    label: awkward,
  })
  .map(({ base, reason, requestId, label }) => {
    const copy = structuredClone(base) as Record<string, unknown> & {
      incident?: {
        policy_user_labels?: Record<string, unknown>;
        policy_name?: unknown;
        summary?: unknown;
      };
    };
    copy.reason = reason;
    copy.requestId = requestId;
    if (copy.incident !== undefined) {
      copy.incident.policy_name = label;
      copy.incident.summary = label;
      copy.incident.policy_user_labels = { ...copy.incident.policy_user_labels, team: label };
    }
    return asData(JSON.stringify(copy));
  });
export const deeplyNested = fc
  .record({
    depth: fc.integer({ min: 1, max: 30_000 }),
    shape: fc.constantFrom('array', 'object', 'in-field', 'in-incident'),
  })
  .map(({ depth, shape }) => {
    const arrays = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const objects = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    switch (shape) {
      case 'array':
        return asData(arrays);
      case 'object':
        return asData(objects);
      case 'in-field':
        return asData(`{"automationRun":${arrays}}`);
      default:
        return asData(
          `{"version":"1.2","incident":{"state":"open","policy_user_labels":{"clouddeploy_pipeline":"checkout","clouddeploy_location":"us-central1","x":${objects}},"scoping_project_id":"shop-prod"}}`,
        );
    }
  });

/** Whole events that may not even carry a Pub/Sub message. */
export const randomEnvelopes = fc.oneof(
  fc.anything({ maxDepth: 3 }),
  fc.record({ data: fc.anything({ maxDepth: 3 }) }),
  fc.record({
    id: fc.string(),
    time: fc.oneof(
      fc.string(),
      fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
    ),
    data: fc.record({
      message: fc.dictionary(
        fc.constantFrom('data', 'messageId', 'publishTime', 'attributes', '__proto__'),
        fc.anything({ maxDepth: 2 }),
      ),
    }),
  }),
);

export function eventFor(data: RawData, messageId: string) {
  return buildEvent(undefined, { raw: 'raw' in data ? data.raw : data.base64, messageId });
}

export interface InProcessResult {
  readonly events: AuditEvent[];
  readonly lines: string[];
  readonly deploy: FakeDeploy;
}

/** Bounds a promise: a hang becomes a failure. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs one event through the real handler with our fakes, then checks what must hold for any
 * input: it ends (never throws, never hangs), leaves at least one audit event, every event is
 * valid, every log line is one JSON object, no run is cancelled twice, and Cloud Deploy is only
 * ever asked about valid names of allowed pipelines.
 */
export async function runInProcess(
  event: unknown,
  runs: AutomationRun[] = SEEDED_RUNS,
): Promise<InProcessResult> {
  const deploy = new FakeDeploy(runs);
  const audit = new RecordingAudit();
  const lines: string[] = [];
  const handler = createCancelHandler({
    config: buildConfig({ allowedPipelines: ALLOWED_PATTERNS, defaultLocation: 'us-central1' }),
    deploy,
    audit,
    clock: new FixedClock(),
    logger: createLogger((line) => lines.push(line)),
  });
  await within(handler(event as Parameters<typeof handler>[0]), 5_000, 'the handler');
  const problems: string[] = [];
  if (audit.events.length === 0) problems.push('no audit event');
  for (const auditEvent of audit.events) {
    const parsed = auditEventSchema.safeParse(auditEvent);
    if (!parsed.success) problems.push(`invalid audit event: ${parsed.error.message}`);
  }
  problems.push(...forbiddenCalls(deploy.calls).map((call) => `forbidden call ${call}`));
  for (const [name, count] of deploy.cancels)
    if (count > 1) problems.push(`${name} cancelled ${count} times`);
  for (const line of lines) {
    if (/[\n\r\u2028\u2029]/.test(line)) problems.push(`log line breaks: ${JSON.stringify(line)}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      problems.push(`log line is not JSON: ${JSON.stringify(line)}`);
    }
    if (typeof parsed !== 'object' || parsed === null || !('severity' in parsed)) {
      problems.push(`log line is not a structured entry: ${JSON.stringify(line)}`);
    }
  }
  if (lines.length < audit.events.length) problems.push('a decision was not logged');
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return { events: audit.events, lines, deploy };
}
