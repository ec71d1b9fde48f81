import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ParseOptions, parseRequest, parseRequestJson } from '../src/parse-request';

const RUN = 'projects/my-proj/locations/us-central1/deliveryPipelines/web/automationRuns/abc-123';
const PIPELINE = 'projects/my-proj/locations/us-central1/deliveryPipelines/web';
const options: ParseOptions = { defaultLocation: undefined };
const example = (file: string) =>
  JSON.parse(readFileSync(join(__dirname, 'fixtures', 'monitoring', file), 'utf8')) as Record<
    string,
    unknown
  >;
const encode = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64');

function rejected(json: unknown, parseOptions = options) {
  const result = parseRequestJson(json, parseOptions);
  if (result.ok) throw new Error(`expected a rejection, got ${JSON.stringify(result.request)}`);
  return result;
}

function accepted(json: unknown, parseOptions = options) {
  const result = parseRequestJson(json, parseOptions);
  if (!result.ok) throw new Error(`expected a request, got: ${result.message}`);
  return result.request;
}

describe('decoding message data', () => {
  it('accepts UTF-8 JSON in base64', () => {
    const result = parseRequest(encode({ automationRun: RUN }), options);
    expect(result.ok).toBe(true);
  });

  it.each([
    [null, 'no data'],
    ['!!!not base64!!!', 'not valid base64'],
    [encode('{"automationRun": '), 'not valid JSON'],
    [Buffer.from([0xff, 0xfe, 0x7b, 0x7d]).toString('base64'), 'not valid UTF-8'],
    [encode('[1,2]'), 'must be a JSON object'],
    [encode('"text"'), 'must be a JSON object'],
    [encode('null'), 'must be a JSON object'],
  ])('rejects %j (%s)', (data, message) => {
    const result = parseRequest(data, options);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toContain(message);
  });

  it('rejects data over 64 KiB and accepts data at the limit', () => {
    const atLimit = `${JSON.stringify({ automationRun: RUN })}${' '.repeat(64 * 1024 - JSON.stringify({ automationRun: RUN }).length)}`;
    expect(Buffer.byteLength(atLimit)).toBe(64 * 1024);
    expect(parseRequest(encode(atLimit), options).ok).toBe(true);
    const over = `${atLimit} `;
    const result = parseRequest(encode(over), options);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(/65537 bytes; the limit is 65536/);
    const huge = parseRequest(encode('x'.repeat(1024 * 1024)), options);
    expect(huge.ok).toBe(false);
  });
});

describe('named runs (REQUEST)', () => {
  it('reads one run with every common field', () => {
    expect(
      accepted({
        automationRun: RUN,
        reason: 'bad canary',
        requestId: 'ticket-4711',
        dryRun: true,
      }),
    ).toEqual({
      kind: 'named',
      source: 'REQUEST',
      runs: [RUN],
      reason: 'bad canary',
      requestId: 'ticket-4711',
      dryRun: true,
      incidentId: undefined,
      policyName: undefined,
    });
  });

  it('reads a list and drops duplicates', () => {
    const other = RUN.replace('abc-123', 'def-456');
    expect(accepted({ automationRuns: [RUN, other, RUN] })).toMatchObject({ runs: [RUN, other] });
  });

  it('accepts exactly 100 names and rejects 101', () => {
    const names = (count: number) =>
      Array.from({ length: count }, (_, index) => RUN.replace('abc-123', `r${index}`));
    expect(accepted({ automationRuns: names(100) })).toMatchObject({ kind: 'named' });
    expect(rejected({ automationRuns: names(101) }).message).toContain('at most 100');
  });

  it.each([
    [{ automationRun: 'abc-123' }, 'automationRun: must be projects/'],
    [{ automationRun: `${RUN}/` }, 'automationRun'],
    [{ automationRun: RUN.replace('web', '..') }, 'automationRun'],
    [{ automationRun: RUN.replace('web', '*') }, 'automationRun'],
    [{ automationRun: RUN.replace('/web/', '//') }, 'automationRun'],
    [{ automationRun: 42 }, 'automationRun'],
    [{ automationRuns: [] }, 'at least one'],
    [{ automationRuns: [RUN, 'nope'] }, 'automationRuns.1'],
    [{ automationRun: RUN, automationRuns: [RUN] }, 'exactly one'],
    [{ automationRun: RUN, reason: 'x'.repeat(1025) }, 'reason: must be at most 1024'],
    [{ automationRun: RUN, reason: 7 }, 'reason'],
    [{ automationRun: RUN, requestId: 'x'.repeat(129) }, 'requestId: must be at most 128'],
    [{ automationRun: RUN, requestId: '' }, 'requestId'],
    [{ automationRun: RUN, dryRun: 'true' }, 'dryRun'],
    [{ automationRun: RUN, extra: 1 }, 'unknown field "extra"'],
    [{}, 'not a cancel request'],
    [{ run: RUN }, 'not a cancel request'],
  ])('rejects %j', (json, message) => {
    const result = parseRequestJson(json, options);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.source).toBe('REQUEST');
      expect(result.message).toContain(message);
    }
  });

  it('keeps a usable requestId and reason of a rejected message for the audit', () => {
    expect(
      rejected({ automationRun: 'bad', requestId: 'ticket-1', reason: 'why' }).partial,
    ).toEqual({
      requestId: 'ticket-1',
      reason: 'why',
    });
  });

  it('rejects an own __proto__ key as an unknown field', () => {
    const json = JSON.parse(`{"automationRun": "${RUN}", "__proto__": {"admin": true}}`);
    expect(rejected(json).message).toContain('__proto__');
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });
});

describe('sweeps (SWEEP)', () => {
  it('reads the contract example', () => {
    expect(
      accepted({
        pipelines: [PIPELINE],
        olderThanSeconds: 7200,
        states: ['PENDING'],
        targetId: 'prod',
        automationId: 'promote-to-prod',
        ruleId: 'promote',
        reason: 'nightly cleanup',
      }),
    ).toEqual({
      kind: 'select',
      source: 'SWEEP',
      pipelines: [PIPELINE],
      filter: {
        states: ['PENDING'],
        olderThanSeconds: 7200,
        targetId: 'prod',
        automationId: 'promote-to-prod',
        ruleId: 'promote',
      },
      reason: 'nightly cleanup',
      requestId: undefined,
      dryRun: false,
      incidentId: undefined,
      policyName: undefined,
    });
  });

  it('lets pipeline stand for pipelines and defaults states to both cancellable ones', () => {
    expect(accepted({ pipeline: PIPELINE })).toMatchObject({
      pipelines: [PIPELINE],
      filter: { states: ['PENDING', 'IN_PROGRESS'], olderThanSeconds: undefined },
    });
  });

  it.each([
    [{ pipeline: `${PIPELINE}/` }, 'pipeline'],
    [{ pipeline: PIPELINE.replace('my-proj', '*') }, 'pipeline'],
    [{ pipeline: PIPELINE, pipelines: [PIPELINE] }, 'exactly one'],
    [{ pipelines: [] }, 'at least one'],
    [{ pipeline: PIPELINE, olderThanSeconds: -1 }, 'olderThanSeconds'],
    [{ pipeline: PIPELINE, olderThanSeconds: 1.5 }, 'olderThanSeconds'],
    [{ pipeline: PIPELINE, olderThanSeconds: '60' }, 'olderThanSeconds'],
    [{ pipeline: PIPELINE, states: ['SUCCEEDED'] }, 'states'],
    [{ pipeline: PIPELINE, states: [] }, 'states'],
    [{ pipeline: PIPELINE, targetId: 'Prod' }, 'targetId'],
    [{ pipeline: PIPELINE, automationId: 'a b' }, 'automationId'],
    [{ pipeline: PIPELINE, ruleId: '' }, 'ruleId'],
    [{ pipeline: PIPELINE, olderThan: 60 }, 'unknown field "olderThan"'],
    [{ pipeline: PIPELINE, automationRun: RUN }, 'unknown field "automationRun"'],
  ])('rejects %j', (json, message) => {
    const result = rejected(json);
    expect(result.source).toBe('SWEEP');
    expect(result.message).toContain(message);
  });
});

describe('Cloud Monitoring incidents (ALERT)', () => {
  it('selects the labelled pipeline of an open incident', () => {
    expect(accepted(example('incident-open.json'))).toMatchObject({
      kind: 'select',
      source: 'ALERT',
      pipelines: ['projects/shop-prod/locations/us-central1/deliveryPipelines/checkout'],
      filter: {
        states: ['PENDING', 'IN_PROGRESS'],
        targetId: 'prod',
        automationId: undefined,
        ruleId: undefined,
      },
      incidentId: '0.nq3c7k2v1xab',
      policyName: 'checkout 5xx during rollout',
      dryRun: false,
    });
  });

  it('ignores a closed incident', () => {
    expect(accepted(example('incident-closed.json'))).toMatchObject({
      kind: 'ignore',
      source: 'ALERT',
    });
  });

  it('ignores the console test notification although its state is OPEN', () => {
    const request = accepted(example('incident-console-test.json'));
    expect(request).toMatchObject({ kind: 'ignore', incidentId: '12345' });
  });

  it('rejects an open incident from a policy without labels, naming the label', () => {
    const result = rejected(example('incident-log-match-no-labels.json'));
    expect(result.source).toBe('ALERT');
    expect(result.message).toContain('clouddeploy_pipeline');
    expect(result.partial).toMatchObject({
      incidentId: '0.mgisnkarc3o0',
      policyName: 'checkout errors in logs',
    });
  });

  it('compares the state case-insensitively', () => {
    const incident = example('incident-open.json');
    (incident.incident as Record<string, unknown>).state = 'OPEN';
    expect(accepted(incident).kind).toBe('select');
  });

  it('uses DEFAULT_LOCATION and scoping_project_id when labels are absent', () => {
    const incident = example('incident-open.json');
    (incident.incident as Record<string, unknown>).policy_user_labels = {
      clouddeploy_pipeline: 'checkout',
    };
    expect(rejected(incident).message).toContain('clouddeploy_location');
    expect(accepted(incident, { defaultLocation: 'europe-west4' })).toMatchObject({
      pipelines: ['projects/shop-prod/locations/europe-west4/deliveryPipelines/checkout'],
    });
  });

  it('falls back to GOOGLE_CLOUD_PROJECT when the incident names no project', () => {
    const incident = example('incident-open.json');
    delete (incident.incident as Record<string, unknown>).scoping_project_id;
    expect(rejected(incident).message).toContain('clouddeploy_project');
    expect(
      accepted(incident, { defaultLocation: undefined, defaultProject: 'ops-project' }),
    ).toMatchObject({
      pipelines: ['projects/ops-project/locations/us-central1/deliveryPipelines/checkout'],
    });
  });

  it('reads project, automation and rule labels', () => {
    const incident = example('incident-open.json');
    (incident.incident as Record<string, unknown>).policy_user_labels = {
      clouddeploy_pipeline: 'web',
      clouddeploy_location: 'asia-east1',
      clouddeploy_project: 'other-proj',
      clouddeploy_automation: 'promote-to-prod',
      clouddeploy_rule: 'promote',
    };
    expect(accepted(incident)).toMatchObject({
      pipelines: ['projects/other-proj/locations/asia-east1/deliveryPipelines/web'],
      filter: { targetId: undefined, automationId: 'promote-to-prod', ruleId: 'promote' },
    });
  });

  it.each([
    ['clouddeploy_pipeline', '../web'],
    ['clouddeploy_location', 'US'],
    ['clouddeploy_project', 'a/b'],
    ['clouddeploy_target', 'Prod'],
    ['clouddeploy_automation', 'x y'],
    ['clouddeploy_rule', '*'],
  ])('rejects a bad %s label', (label, value) => {
    const incident = example('incident-open.json');
    const inner = incident.incident as Record<string, Record<string, unknown>>;
    inner.policy_user_labels = { ...inner.policy_user_labels, [label]: value };
    expect(rejected(incident).message).toContain(label);
  });

  it('never rejects for fields the decision does not use', () => {
    const incident = example('incident-open.json');
    const inner = incident.incident as Record<string, unknown>;
    inner.observed_value = 'about eleven';
    inner.threshold_value = null;
    delete inner.severity;
    delete inner.url;
    delete inner.summary;
    inner.resource = 'weird';
    inner.incident_id = 12;
    expect(accepted(incident)).toMatchObject({ kind: 'select', incidentId: '12' });
  });

  it.each([
    [{ version: '1.2' }, 'incident'],
    [{ version: 1.2, incident: {} }, 'version'],
    [{ version: '1.2', incident: { incident_id: 'x' } }, 'incident.state'],
    [{ incident: { state: 'open' } }, 'version'],
  ])('rejects a malformed notification %j', (json, message) => {
    const result = rejected(json);
    expect(result.source).toBe('ALERT');
    expect(result.message).toContain(message);
  });
});
