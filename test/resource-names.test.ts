import { describe, expect, it } from 'vitest';
import {
  isAllowedPipeline,
  PipelinePattern,
  parsePipelineName,
  parseRunName,
} from '../src/resource-names';

const run = 'projects/my-proj/locations/us-central1/deliveryPipelines/web/automationRuns/abc-123';

describe('parseRunName', () => {
  it('splits a valid name', () => {
    expect(parseRunName(run)).toEqual({
      name: run,
      pipelineName: 'projects/my-proj/locations/us-central1/deliveryPipelines/web',
      project: 'my-proj',
      location: 'us-central1',
      pipeline: 'web',
      run: 'abc-123',
    });
  });

  it.each([
    'projects/example.com:my-proj/locations/global/deliveryPipelines/web/automationRuns/r1',
    'projects/123456789012/locations/europe-west4/deliveryPipelines/a/automationRuns/0',
  ])('accepts %s', (name) => expect(parseRunName(name)).toBeDefined());

  it.each([
    '',
    'abc-123',
    `${run}/`,
    `/${run}`,
    run.replace('automationRuns/abc-123', 'automationRuns/'),
    run.replace('/web/', '//'),
    run.replace('/web/', '/../'),
    run.replace('/web/', '/*/'),
    run.replace('abc-123', '..'),
    run.replace('abc-123', 'abc%2F123'),
    run.replace('abc-123', 'ABC'),
    run.replace('my-proj', 'My-Proj'),
    run.replace('web', 'web '),
    ` ${run}`,
    run.replace('web', 'wеb'),
    run.replace('automationRuns', 'rollouts'),
    `${run}/automationRuns/x`,
    run.replace('us-central1', 'us_central1'),
    `${run}\n`,
  ])('rejects %j', (name) => expect(parseRunName(name)).toBeUndefined());
});

describe('PipelinePattern', () => {
  const patterns = [
    PipelinePattern.parse('projects/my-proj/locations/*/deliveryPipelines/web'),
    PipelinePattern.parse('projects/*/locations/europe-west4/deliveryPipelines/*'),
  ].filter((pattern) => pattern !== undefined);

  it.each([
    ['projects/my-proj/locations/us-central1/deliveryPipelines/web', true],
    ['projects/my-proj/locations/asia-east1/deliveryPipelines/web', true],
    ['projects/other-proj/locations/europe-west4/deliveryPipelines/api', true],
    ['projects/my-proj/locations/us-central1/deliveryPipelines/api', false],
    ['projects/my-proj/locations/us-central1/deliveryPipelines/web2', false],
    ['projects/my-proj/locations/us-central1/deliveryPipelines/WEB', false],
    ['projects/my-proj/locations/us-central1/deliveryPipelines/web/', false],
    ['projects/my-proj/locations/us-central1/x/deliveryPipelines/web', false],
    ['projects/my-proj/locations/*/deliveryPipelines/web', false],
    ['projects/my-proj/locations//deliveryPipelines/web', false],
  ])('%s allowed: %s', (pipeline, allowed) => {
    expect(isAllowedPipeline(pipeline, patterns)).toBe(allowed);
  });

  it.each([
    '*',
    'projects/*',
    'projects/*/locations/*/deliveryPipelines/web-*',
    'projects/**/locations/*/deliveryPipelines/*',
  ])('refuses the pattern %s', (source) => expect(PipelinePattern.parse(source)).toBeUndefined());

  it('parses pipeline names', () => {
    expect(
      parsePipelineName('projects/my-proj/locations/us-central1/deliveryPipelines/web')?.pipeline,
    ).toBe('web');
    expect(
      parsePipelineName(
        'projects/my-proj/locations/us-central1/deliveryPipelines/web/automationRuns/a',
      ),
    ).toBeUndefined();
  });
});
