import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Topic } from '@google-cloud/pubsub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CloudDeployEmulator } from '../../src/emulator/deploy-emulator';
import type { FunctionServer } from '../../src/emulator/function-server';
import type { PubSubFixtures } from '../../src/emulator/pubsub-fixtures';
import { describeWithPubSubEmulator } from '../support/emulator-env';
import { buildRun } from '../support/fakes';
import { recordFigures } from './support/figures';
import { asData, CHECKOUT, eventFor, runInProcess } from './support/inputs';
import {
  type AuditLedger,
  doubleCancelled,
  type Expectation,
  forbiddenCalls,
  nonJsonLogLines,
  type PushStack,
  pipelineOf,
  runOf,
  startPushStack,
  waitForQuiet,
} from './support/stack';

/**
 * Hostile and broken input, case by case: attempts to get past ALLOWED_PIPELINES, attempts to
 * forge or break log lines, and every size limit at and beyond its edge. Each case runs
 * through the in-process handler and through the real Functions Framework.
 */

const INCIDENT = JSON.parse(
  readFileSync(join(__dirname, '..', 'fixtures', 'monitoring', 'incident-open.json'), 'utf8'),
) as { incident: Record<string, unknown> };
const incidentWith = (labels: Record<string, unknown>, scopingProject = 'shop-prod') => {
  const copy = structuredClone(INCIDENT);
  copy.incident.policy_user_labels = labels;
  copy.incident.scoping_project_id = scopingProject;
  return copy;
};
const labels = (overrides: Record<string, unknown>) => ({
  clouddeploy_pipeline: 'checkout',
  clouddeploy_location: 'us-central1',
  ...overrides,
});

const RUN = `${CHECKOUT}/automationRuns/r1`;
/** Names that must never reach Cloud Deploy: malformed, look-alike, or outside the allowlist. */
const BYPASS_RUN_NAMES = [
  `${CHECKOUT}/automationRuns/../r1`,
  `${CHECKOUT}/../checkout/automationRuns/r1`,
  'projects/shop-prod/locations/us-central1/deliveryPipelines/checkout/../../../../projects/other-proj/locations/us-central1/deliveryPipelines/x/automationRuns/r1',
  'projects/shop-prod%2Flocations%2Fus-central1/deliveryPipelines/checkout/automationRuns/r1',
  `${CHECKOUT}%2FautomationRuns%2Fr1`,
  `${CHECKOUT}/automationRuns/r1%2F..`,
  `${RUN}/`,
  `/${RUN}`,
  `${CHECKOUT}//automationRuns/r1`,
  'projects//locations/us-central1/deliveryPipelines/checkout/automationRuns/r1',
  'projects/Shop-prod/locations/us-central1/deliveryPipelines/checkout/automationRuns/r1',
  'projects/shop-prod/locations/US-CENTRAL1/deliveryPipelines/checkout/automationRuns/r1',
  `${CHECKOUT.replace('checkout', 'Checkout')}/automationRuns/r1`,
  `${CHECKOUT}/automationRuns/R1`,
  ` ${RUN}`,
  `${RUN} `,
  `${RUN}\n`,
  `${RUN}\t`,
  `${CHECKOUT}/automationRuns/r\u00a01`,
  `${CHECKOUT.replace('checkout', 'сheckout')}/automationRuns/r1`,
  `${CHECKOUT.replace('checkout', 'ｃｈｅｃｋｏｕｔ')}/automationRuns/r1`,
  'projects/shop-prоd/locations/us-central1/deliveryPipelines/checkout/automationRuns/r1',
  `${CHECKOUT}／automationRuns／r1`,
  `${CHECKOUT}/automationRuns/r1\u0000`,
  `${CHECKOUT}/automationRuns/*`,
  'projects/*/locations/*/deliveryPipelines/*/automationRuns/r1',
  `${CHECKOUT}/automationRuns/r1?alt=json`,
  `${CHECKOUT}/automationRuns/r1#x`,
  `${CHECKOUT}/automationRuns/r1/cancel`,
  `${CHECKOUT}/automations/r1`,
  'projects/other-proj/locations/us-central1/deliveryPipelines/checkout/automationRuns/r1',
  'projects/shop-prod/locations/europe-west1/deliveryPipelines/checkout/automationRuns/r1',
  'projects/example.com:shop-prod/locations/us-central1/deliveryPipelines/checkout/automationRuns/r1',
  'projects/123456789012/locations/us-central1/deliveryPipelines/checkout/automationRuns/r1',
  'projects/my-proj/locations/us-central1/deliveryPipelines/web2/automationRuns/r1',
  'projects/my-proj/locations/us-central1/deliveryPipelines/we/automationRuns/r1',
  'projects/my-proj/locations/us-central2/deliveryPipelines/web/automationRuns/r1',
];
const BYPASS_PIPELINES = [
  `${CHECKOUT}/`,
  `${CHECKOUT}/..`,
  `${CHECKOUT}/automationRuns/r1`,
  'projects/shop-prod/locations/us-central1/deliveryPipelines/*',
  'projects/shop-prod/locations/us-central1/deliveryPipelines',
  'projects/shop-prod%2Flocations/us-central1/deliveryPipelines/checkout',
  CHECKOUT.replace('checkout', 'CHECKOUT'),
  CHECKOUT.replace('checkout', 'сheckout'),
  ` ${CHECKOUT}`,
  `${CHECKOUT}\r\n`,
  'projects/other-proj/locations/us-central1/deliveryPipelines/checkout',
  'projects/shop-prod/locations/asia-east1/deliveryPipelines/checkout',
  'projects/my-proj/locations/us-central1/deliveryPipelines/webx',
];
const BYPASS_LABELS = [
  labels({ clouddeploy_pipeline: 'checkout/../../other' }),
  labels({ clouddeploy_pipeline: '../checkout' }),
  labels({ clouddeploy_pipeline: 'checkout/' }),
  labels({ clouddeploy_pipeline: 'checkout/automationRuns/r1' }),
  labels({ clouddeploy_pipeline: 'Checkout' }),
  labels({ clouddeploy_pipeline: 'сheckout' }),
  labels({ clouddeploy_pipeline: 'ｃheckout' }),
  labels({ clouddeploy_pipeline: ' checkout' }),
  labels({ clouddeploy_pipeline: 'checkout\n' }),
  labels({ clouddeploy_pipeline: '*' }),
  labels({ clouddeploy_pipeline: 'checkout%2F..' }),
  labels({ clouddeploy_pipeline: ['checkout'] }),
  labels({ clouddeploy_pipeline: { name: 'checkout' } }),
  labels({ clouddeploy_pipeline: '' }),
  labels({ clouddeploy_project: 'other-proj' }),
  labels({ clouddeploy_project: 'shop-prod/locations/us-central1/deliveryPipelines/checkout' }),
  labels({ clouddeploy_project: '*' }),
  labels({ clouddeploy_project: 'SHOP-PROD' }),
  labels({ clouddeploy_location: 'europe-west1' }),
  labels({ clouddeploy_location: 'us-central1/deliveryPipelines/checkout' }),
  labels({ clouddeploy_location: '*' }),
  labels({ clouddeploy_location: 'US-CENTRAL1' }),
  labels({ clouddeploy_target: 'prod" OR target_id != "x' }),
  labels({ clouddeploy_rule: 'promote) OR (state = "SUCCEEDED"' }),
];
const BYPASS_REQUESTS: unknown[] = [
  ...BYPASS_RUN_NAMES.map((automationRun) => ({ automationRun })),
  { automationRuns: BYPASS_RUN_NAMES },
  ...BYPASS_PIPELINES.map((pipeline) => ({ pipeline })),
  { pipelines: BYPASS_PIPELINES },
  ...BYPASS_LABELS.map((policyLabels) => incidentWith(policyLabels)),
  // No project label: the incident's own project decides, and it is not allowed.
  incidentWith(
    { clouddeploy_pipeline: 'checkout', clouddeploy_location: 'us-central1' },
    'other-proj',
  ),
];

/** Text that tries to end a log line early, forge another, or garble a terminal. */
const INJECTIONS = [
  'line one\nline two',
  'carriage\rreturn',
  '\r\n{"severity":"CRITICAL","message":"forged"}\r\n',
  'nul\u0000byte',
  '\u001b[2J\u001b[31mred alert\u001b[0m',
  'line\u2028separator',
  'paragraph\u2029separator',
  'next\u0085line',
  '}"\\,{"severity":"CRITICAL"',
];
const INJECTION_RUNS = INJECTIONS.map((_, index) => runOf(CHECKOUT, `inject-${index}`));
const INJECTION_REQUESTS = INJECTIONS.flatMap((text, index) => [
  { automationRun: INJECTION_RUNS[index], reason: text, requestId: text },
  // Rejected, but the requestId and reason are still echoed.
  { automationRun: 'not a run', reason: text, requestId: text },
  (() => {
    const incident = incidentWith(labels({ team: text, clouddeploy_target: text }));
    incident.incident.policy_name = text;
    incident.incident.summary = text;
    return incident;
  })(),
  incidentWith(labels({ clouddeploy_pipeline: text })),
]);

/** A raw control character, or a separator some readers break lines on, left unescaped. */
const hasRawBreakOrControl = (text: string) =>
  [...text].some((character) => {
    const code = character.codePointAt(0) ?? 0;
    return code < 0x20 || code === 0x2028 || code === 0x2029;
  });

/** Each size limit at its edge (decided) and one past it (REJECTED). */
interface SizeCase {
  readonly title: string;
  readonly data: string;
  /** Runs that must be decided; undefined: the message must be REJECTED with no API call. */
  readonly runs: readonly string[] | undefined;
}
const padTo = (value: object, bytes: number) => {
  const text = JSON.stringify(value);
  return `${text.slice(0, -1)}${' '.repeat(bytes - Buffer.byteLength(text))}}`;
};
const SIZE_RUNS = Array.from({ length: 101 }, (_, index) => runOf(CHECKOUT, `size-${index}`));
const SIZE_PIPELINES = Array.from({ length: 101 }, (_, index) => pipelineOf(`size-${index}`));
const LONG_RUN = runOf(CHECKOUT, `r${'a'.repeat(127)}`);
const LONG_PIPELINE = pipelineOf(`p${'a'.repeat(62)}`);
const SIZE_CASES: SizeCase[] = [
  { title: 'data of 65,536 bytes', data: padTo({ automationRun: RUN }, 65_536), runs: [RUN] },
  { title: 'data of 65,537 bytes', data: padTo({ automationRun: RUN }, 65_537), runs: undefined },
  { title: 'data of 1 MiB', data: padTo({ automationRun: RUN }, 1024 * 1024), runs: undefined },
  {
    title: 'a reason of 1,024 characters',
    data: JSON.stringify({ automationRun: RUN, reason: 'r'.repeat(1024) }),
    runs: [RUN],
  },
  {
    title: 'a reason of 1,024 non-ASCII characters',
    data: JSON.stringify({ automationRun: RUN, reason: 'é'.repeat(1024) }),
    runs: [RUN],
  },
  {
    title: 'a reason of 1,025 characters',
    data: JSON.stringify({ automationRun: RUN, reason: 'r'.repeat(1025) }),
    runs: undefined,
  },
  {
    title: 'a requestId of 128 characters',
    data: JSON.stringify({ automationRun: RUN, requestId: 'i'.repeat(128) }),
    runs: [RUN],
  },
  {
    title: 'a requestId of 129 characters',
    data: JSON.stringify({ automationRun: RUN, requestId: 'i'.repeat(129) }),
    runs: undefined,
  },
  {
    title: 'an empty requestId',
    data: JSON.stringify({ automationRun: RUN, requestId: '' }),
    runs: undefined,
  },
  {
    title: '100 automationRuns',
    data: JSON.stringify({ automationRuns: SIZE_RUNS.slice(0, 100) }),
    runs: SIZE_RUNS.slice(0, 100),
  },
  {
    title: '101 automationRuns',
    data: JSON.stringify({ automationRuns: SIZE_RUNS }),
    runs: undefined,
  },
  {
    title: 'an empty automationRuns',
    data: JSON.stringify({ automationRuns: [] }),
    runs: undefined,
  },
  {
    title: '100 pipelines',
    data: JSON.stringify({ pipelines: SIZE_PIPELINES.slice(0, 100) }),
    runs: [runOf(SIZE_PIPELINES[0] as string, 'only')],
  },
  { title: '101 pipelines', data: JSON.stringify({ pipelines: SIZE_PIPELINES }), runs: undefined },
  { title: 'an empty pipelines', data: JSON.stringify({ pipelines: [] }), runs: undefined },
  {
    title: 'a run id of 128 characters',
    data: JSON.stringify({ automationRun: LONG_RUN }),
    runs: [LONG_RUN],
  },
  {
    title: 'a run id of 129 characters',
    data: JSON.stringify({ automationRun: `${LONG_RUN}a` }),
    runs: undefined,
  },
  {
    title: 'a pipeline id of 63 characters',
    data: JSON.stringify({ automationRun: runOf(LONG_PIPELINE, 'r1') }),
    runs: [runOf(LONG_PIPELINE, 'r1')],
  },
  {
    title: 'a pipeline id of 64 characters',
    data: JSON.stringify({ automationRun: runOf(`${LONG_PIPELINE}a`, 'r1') }),
    runs: undefined,
  },
];
const SIZE_SEEDS = [
  RUN,
  ...SIZE_RUNS,
  runOf(SIZE_PIPELINES[0] as string, 'only'),
  LONG_RUN,
  runOf(LONG_PIPELINE, 'r1'),
];

describe('hostile input through the in-process handler', () => {
  it('sends nothing to Cloud Deploy for any allowlist bypass attempt', async () => {
    for (const [index, request] of BYPASS_REQUESTS.entries()) {
      const { events, deploy } = await runInProcess(
        eventFor(asData(JSON.stringify(request)), `bypass-${index}`),
      );
      expect(deploy.calls, JSON.stringify(request)).toEqual([]);
      for (const event of events) expect(['REJECTED', 'DENIED']).toContain(event.outcome);
    }
    recordFigures({ inputs: BYPASS_REQUESTS.length });
  });

  it('keeps every injection inside one JSON log line', async () => {
    for (const [index, request] of INJECTION_REQUESTS.entries()) {
      // runInProcess fails on any log line that breaks or does not parse.
      const { lines } = await runInProcess(
        eventFor(asData(JSON.stringify(request)), `inject-${index}`),
      );
      for (const line of lines) {
        expect(hasRawBreakOrControl(line)).toBe(false);
        expect((JSON.parse(line) as { severity: string }).severity).not.toBe('CRITICAL');
      }
    }
    recordFigures({ inputs: INJECTION_REQUESTS.length });
  });

  it.for(SIZE_CASES)('decides or rejects $title', async (size) => {
    const { events, deploy } = await runInProcess(
      eventFor(asData(size.data), 'size'),
      SIZE_SEEDS.map((name) => buildRun({ name })),
    );
    if (size.runs === undefined) {
      expect(events.map((event) => event.outcome)).toEqual(['REJECTED']);
      expect(deploy.calls).toEqual([]);
    } else {
      const decided = new Set(events.map((event) => event.automationRun));
      expect(size.runs.filter((run) => !decided.has(run))).toEqual([]);
      expect(events.every((event) => event.outcome !== 'REJECTED')).toBe(true);
    }
    recordFigures({ inputs: 1 });
  });
});

describeWithPubSubEmulator('hostile input through the Functions Framework', () => {
  let deploy: CloudDeployEmulator;
  let pubsub: PubSubFixtures;
  let requests: Topic;
  let ledger: AuditLedger;
  let server: FunctionServer;

  let stack: PushStack;

  beforeAll(async () => {
    stack = await startPushStack({ label: 'hostile', env: { DEFAULT_LOCATION: 'us-central1' } });
    ({ deploy, pubsub, requests, ledger, server } = stack);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function publishAndSettle(datas: readonly string[], runsOf: (index: number) => string[]) {
    const ids = await Promise.all(datas.map((data) => pubsub.publishRaw(requests, data)));
    const expectations: Expectation[] = ids.map((messageId, index) => ({
      messageId,
      runs: runsOf(index),
    }));
    const accounting = await ledger.settle(expectations, 90_000);
    await waitForQuiet(deploy, 2_000, 60_000);
    return { ids, accounting };
  }

  it('sends nothing to Cloud Deploy for any allowlist bypass attempt', async () => {
    const callsBefore = deploy.calls.length;
    const { ids, accounting } = await publishAndSettle(
      BYPASS_REQUESTS.map((request) => JSON.stringify(request)),
      () => [],
    );
    recordFigures({ inputs: BYPASS_REQUESTS.length, lost: accounting.lost });
    expect(accounting.missing).toEqual([]);
    expect(deploy.calls.slice(callsBefore)).toEqual([]);
    expect(ledger.invalid).toEqual([]);
    for (const messageId of ids) {
      for (const event of ledger.of(messageId)) {
        expect(['REJECTED', 'DENIED']).toContain(event.outcome);
      }
    }
  });

  it('keeps every injection inside one JSON line of the real stdout', async () => {
    for (const name of INJECTION_RUNS) deploy.seedRun({ name, state: 'IN_PROGRESS' });
    const { ids, accounting } = await publishAndSettle(
      INJECTION_REQUESTS.map((request) => JSON.stringify(request)),
      (index) => (index % 4 === 0 ? [INJECTION_RUNS[index / 4] as string] : []),
    );
    const doubles = doubleCancelled(deploy);
    recordFigures({
      inputs: INJECTION_REQUESTS.length,
      lost: accounting.lost,
      doubleCancelled: doubles.length,
    });
    expect(accounting.missing).toEqual([]);
    expect(doubles).toEqual([]);
    expect(nonJsonLogLines(server)).toEqual([]);
    for (const line of server.logs) {
      expect(hasRawBreakOrControl(line.text)).toBe(false);
      expect(line.json?.severity).not.toBe('CRITICAL');
    }
    // The text survives, escaped, inside its own field of one line.
    ids.forEach((messageId, index) => {
      if (index % 4 !== 0) return;
      const text = INJECTIONS[index / 4];
      const logged = server.logs.filter(
        (line) =>
          (line.json?.request as { messageId?: string } | undefined)?.messageId === messageId,
      );
      expect(logged.length).toBeGreaterThan(0);
      for (const line of logged) {
        expect(line.json?.reason).toBe(text);
        expect((line.json?.request as { requestId?: string } | undefined)?.requestId).toBe(text);
      }
    });
    expect(forbiddenCalls(deploy.calls)).toEqual([]);
  });

  it('decides each size at its limit and rejects it beyond, through Pub/Sub', async () => {
    for (const name of SIZE_SEEDS) deploy.seedRun({ name, state: 'IN_PROGRESS' });
    const callsBefore = deploy.calls.length;
    const { ids, accounting } = await publishAndSettle(
      SIZE_CASES.map((size) => size.data),
      (index) => [...(SIZE_CASES[index]?.runs ?? [])],
    );
    const doubles = doubleCancelled(deploy);
    recordFigures({
      inputs: SIZE_CASES.length,
      lost: accounting.lost,
      doubleCancelled: doubles.length,
    });
    expect(accounting.missing).toEqual([]);
    expect(doubles).toEqual([]);
    expect(ledger.invalid).toEqual([]);
    SIZE_CASES.forEach((size, index) => {
      const events = ledger.of(ids[index] as string);
      if (size.runs === undefined) {
        expect(
          events.map((event) => event.outcome),
          size.title,
        ).toEqual(['REJECTED']);
      } else {
        expect(
          events.some((event) => event.outcome === 'REJECTED'),
          size.title,
        ).toBe(false);
      }
    });
    expect(forbiddenCalls(deploy.calls.slice(callsBefore))).toEqual([]);
    expect(nonJsonLogLines(server)).toEqual([]);
  });
});
