import { describe, expect, it } from 'vitest';
import { CONFIG_DEFAULTS, ConfigError, parseConfig } from '../src/config';

const valid = {
  AUDIT_TOPIC: 'projects/shop-prod/topics/audit',
  ALLOWED_PIPELINES: 'projects/shop-prod/locations/*/deliveryPipelines/*',
};

function configError(environment: Record<string, string>): ConfigError {
  try {
    parseConfig(environment);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('applies the contract defaults', () => {
    const config = parseConfig(valid);
    expect(config).toMatchObject({
      auditTopic: valid.AUDIT_TOPIC,
      dryRun: false,
      maxRunsPerEvent: 50,
      maxEventAgeSeconds: 3600,
      defaultLocation: undefined,
      runConcurrency: CONFIG_DEFAULTS.runConcurrency,
    });
    expect(config.allowedPipelines.map((pattern) => pattern.source)).toEqual([
      valid.ALLOWED_PIPELINES,
    ]);
  });

  it('reads every optional variable', () => {
    const config = parseConfig({
      ...valid,
      ALLOWED_PIPELINES:
        ' projects/a-proj1/locations/us-central1/deliveryPipelines/web , projects/*/locations/*/deliveryPipelines/api ',
      DRY_RUN: 'TRUE',
      MAX_RUNS_PER_EVENT: '7',
      MAX_EVENT_AGE_SECONDS: '60',
      DEFAULT_LOCATION: 'europe-west4',
      GOOGLE_CLOUD_PROJECT: 'shop-prod',
      RUN_CONCURRENCY: '3',
      CLOUD_DEPLOY_EMULATOR_HOST: '127.0.0.1:8085',
      PUBSUB_EMULATOR_HOST: 'localhost:8681',
    });
    expect(config).toMatchObject({
      dryRun: true,
      maxRunsPerEvent: 7,
      maxEventAgeSeconds: 60,
      defaultLocation: 'europe-west4',
      project: 'shop-prod',
      runConcurrency: 3,
      cloudDeployEmulatorHost: '127.0.0.1:8085',
      pubsubEmulatorHost: 'localhost:8681',
    });
    expect(config.allowedPipelines).toHaveLength(2);
  });

  it('treats empty optional variables as unset', () => {
    expect(
      parseConfig({ ...valid, DRY_RUN: '', MAX_RUNS_PER_EVENT: ' ', DEFAULT_LOCATION: '' }),
    ).toMatchObject({
      dryRun: false,
      maxRunsPerEvent: 50,
      defaultLocation: undefined,
    });
  });

  it.each([
    [{}, ['AUDIT_TOPIC', 'ALLOWED_PIPELINES']],
    [{ ALLOWED_PIPELINES: valid.ALLOWED_PIPELINES }, ['AUDIT_TOPIC']],
    [{ ...valid, AUDIT_TOPIC: 'audit' }, ['AUDIT_TOPIC']],
    [{ ...valid, AUDIT_TOPIC: 'projects/shop-prod/subscriptions/audit' }, ['AUDIT_TOPIC']],
    [{ ...valid, ALLOWED_PIPELINES: '' }, ['ALLOWED_PIPELINES']],
    [{ ...valid, ALLOWED_PIPELINES: ' , ' }, ['ALLOWED_PIPELINES']],
    [
      { ...valid, ALLOWED_PIPELINES: 'projects/**/locations/*/deliveryPipelines/*' },
      ['ALLOWED_PIPELINES'],
    ],
    [
      { ...valid, ALLOWED_PIPELINES: 'projects/shop-prod/locations/*/deliveryPipelines/web*' },
      ['ALLOWED_PIPELINES'],
    ],
    [{ ...valid, ALLOWED_PIPELINES: 'projects/shop-prod/locations/*' }, ['ALLOWED_PIPELINES']],
    [{ ...valid, DRY_RUN: 'yes' }, ['DRY_RUN']],
    [{ ...valid, MAX_RUNS_PER_EVENT: '0' }, ['MAX_RUNS_PER_EVENT']],
    [{ ...valid, MAX_RUNS_PER_EVENT: '2.5' }, ['MAX_RUNS_PER_EVENT']],
    [{ ...valid, MAX_RUNS_PER_EVENT: '1001' }, ['MAX_RUNS_PER_EVENT']],
    [{ ...valid, MAX_EVENT_AGE_SECONDS: '-1' }, ['MAX_EVENT_AGE_SECONDS']],
    [{ ...valid, DEFAULT_LOCATION: 'US Central' }, ['DEFAULT_LOCATION']],
    [{ ...valid, GOOGLE_CLOUD_PROJECT: 'Bad_Project' }, ['GOOGLE_CLOUD_PROJECT']],
    [{ ...valid, RUN_CONCURRENCY: '0' }, ['RUN_CONCURRENCY']],
    [{ ...valid, CLOUD_DEPLOY_EMULATOR_HOST: 'http://localhost' }, ['CLOUD_DEPLOY_EMULATOR_HOST']],
    [{ ...valid, PUBSUB_EMULATOR_HOST: 'localhost' }, ['PUBSUB_EMULATOR_HOST']],
  ])('rejects %j naming %j', (environment, variables) => {
    const error = configError(environment as Record<string, string>);
    expect(error.variables).toEqual(variables);
    expect(error.message).not.toContain('\n');
    for (const variable of variables) expect(error.message).toContain(variable);
  });
});
