import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The deployed artifact: package.json `main`, the bundle `npm run build` writes. `npm test`
 * builds first, so it is there.
 */
const REPOSITORY_ROOT = join(__dirname, '..');
const main = (
  JSON.parse(readFileSync(join(REPOSITORY_ROOT, 'package.json'), 'utf8')) as {
    main: string;
  }
).main;

const ENV = {
  PATH: process.env.PATH ?? '',
  AUDIT_TOPIC: 'projects/my-proj/topics/audit',
  ALLOWED_PIPELINES: 'projects/my-proj/locations/*/deliveryPipelines/*',
};

/** Loads `main` as the Functions Framework would and reports what that did. */
const PROBE = `
require(${JSON.stringify(join(REPOSITORY_ROOT, main))});
const { getFunction } = require('@google-cloud/functions-framework/testing');
const loaded = Object.keys(require.cache).filter((path) =>
  /[\\\\/](@google-cloud[\\\\/](deploy|pubsub)|google-gax|@grpc[\\\\/]grpc-js)[\\\\/]/.test(path));
process.stdout.write(JSON.stringify({
  registered: typeof getFunction('cancelAutomationRuns'),
  loaded,
}));
`;

describe('the built entry point', () => {
  it('is what package.json main names', () => {
    expect(main).toBe('dist/function/index.js');
    expect(existsSync(join(REPOSITORY_ROOT, main))).toBe(true);
  });

  it('registers the function without loading a Google client library', () => {
    const output = execFileSync(process.execPath, ['-e', PROBE], {
      cwd: REPOSITORY_ROOT,
      env: ENV,
      encoding: 'utf8',
    });
    expect(JSON.parse(output)).toEqual({ registered: 'function', loaded: [] });
  });

  it('stops at start with one line naming a missing variable', () => {
    const result = spawnSync(process.execPath, ['-e', PROBE], {
      cwd: REPOSITORY_ROOT,
      env: { PATH: ENV.PATH, ALLOWED_PIPELINES: ENV.ALLOWED_PIPELINES },
      encoding: 'utf8',
    });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('AUDIT_TOPIC');
  });
});
