import { describe, expect, it } from 'vitest';
import type { RunState } from '../src/automation-run';
import { decideRun } from '../src/decide-run';
import { TRANSIENT_CODES } from '../src/error-policy';
import type { GrpcCodeName } from '../src/errors/deploy-api-error';
import { RetryableError } from '../src/errors/retryable-error';
import { buildRun, FakeDeploy, PIPELINE, runName } from './support/fakes';

const target = { name: runName('run-1'), pipeline: PIPELINE };

function deployWith(state: RunState) {
  return new FakeDeploy([buildRun({ name: target.name, state })]);
}

describe('decideRun', () => {
  it.each(['IN_PROGRESS', 'PENDING'] as const)('cancels a %s run', async (state) => {
    const deploy = deployWith(state);
    const decision = await decideRun(deploy, target, { dryRun: false });
    expect(decision).toMatchObject({
      outcome: 'CANCELLED',
      automationRun: target.name,
      pipeline: PIPELINE,
      stateBefore: state,
      stateAfter: 'CANCELLED',
      targetId: 'prod',
      automationId: 'promote-to-prod',
      ruleId: 'promote',
      error: null,
    });
    expect(deploy.cancels.get(target.name)).toBe(1);
  });

  it.each(['SUCCEEDED', 'CANCELLED', 'FAILED', 'ABORTED', 'STATE_UNSPECIFIED'] as const)(
    'does not cancel a %s run',
    async (state) => {
      const deploy = deployWith(state);
      expect(await decideRun(deploy, target, { dryRun: false })).toMatchObject({
        outcome: 'NOT_CANCELLABLE',
        stateBefore: state,
        stateAfter: state,
      });
      expect(deploy.callCount('cancelRun')).toBe(0);
    },
  );

  it('decides DRY_RUN without cancelling', async () => {
    const deploy = deployWith('IN_PROGRESS');
    expect(await decideRun(deploy, target, { dryRun: true })).toMatchObject({
      outcome: 'DRY_RUN',
      stateBefore: 'IN_PROGRESS',
      stateAfter: 'IN_PROGRESS',
    });
    expect(deploy.callCount('cancelRun')).toBe(0);
  });

  it('decides NOT_FOUND for an unknown run', async () => {
    const decision = await decideRun(new FakeDeploy(), target, { dryRun: false });
    expect(decision).toMatchObject({
      outcome: 'NOT_FOUND',
      stateBefore: null,
      error: { code: 'NOT_FOUND' },
    });
  });

  it.each([
    ['PERMISSION_DENIED', 'PERMISSION_DENIED'],
    ['INVALID_ARGUMENT', 'FAILED'],
    ['UNAUTHENTICATED', 'FAILED'],
    ['UNIMPLEMENTED', 'FAILED'],
    ['FAILED_PRECONDITION', 'FAILED'],
    ['OUT_OF_RANGE', 'FAILED'],
  ] as const)('maps a %s read to %s', async (code, outcome) => {
    const deploy = deployWith('IN_PROGRESS');
    deploy.fail('getRun', code);
    expect(await decideRun(deploy, target, { dryRun: false })).toMatchObject({
      outcome,
      error: { code },
    });
    expect(deploy.callCount('cancelRun')).toBe(0);
  });

  it.each(TRANSIENT_CODES)('retries when the read fails with %s', async (code) => {
    const deploy = deployWith('IN_PROGRESS');
    deploy.fail('getRun', code);
    await expect(decideRun(deploy, target, { dryRun: false })).rejects.toBeInstanceOf(
      RetryableError,
    );
    expect(deploy.callCount('cancelRun')).toBe(0);
  });

  it('records the new state when the run finished between the read and the cancel', async () => {
    const deploy = deployWith('IN_PROGRESS');
    deploy.beforeCancel = (name) => deploy.setState(name, 'SUCCEEDED');
    expect(await decideRun(deploy, target, { dryRun: false })).toMatchObject({
      outcome: 'NOT_CANCELLABLE',
      stateBefore: 'IN_PROGRESS',
      stateAfter: 'SUCCEEDED',
      error: { code: 'FAILED_PRECONDITION' },
    });
    expect(deploy.callCount('getRun')).toBe(2);
  });

  it('records NOT_CANCELLABLE when another caller cancelled first', async () => {
    const deploy = deployWith('PENDING');
    deploy.beforeCancel = (name) => deploy.setState(name, 'CANCELLED');
    expect(await decideRun(deploy, target, { dryRun: false })).toMatchObject({
      outcome: 'NOT_CANCELLABLE',
      stateAfter: 'CANCELLED',
    });
  });

  it('records NOT_FOUND when the run vanished before the cancel', async () => {
    const deploy = deployWith('PENDING');
    deploy.beforeCancel = (name) => deploy.runs.delete(name);
    expect(await decideRun(deploy, target, { dryRun: false })).toMatchObject({
      outcome: 'NOT_FOUND',
      stateBefore: 'PENDING',
    });
  });

  it.each(['DEADLINE_EXCEEDED', 'UNAVAILABLE'] as const)(
    'treats a %s cancel that took effect as CANCELLED',
    async (code) => {
      const deploy = deployWith('IN_PROGRESS');
      deploy.fail('cancelRun', code, { afterEffect: true });
      expect(await decideRun(deploy, target, { dryRun: false })).toMatchObject({
        outcome: 'CANCELLED',
        stateBefore: 'IN_PROGRESS',
        stateAfter: 'CANCELLED',
      });
      expect(deploy.cancels.get(target.name)).toBe(1);
    },
  );

  it.each(TRANSIENT_CODES)('retries a %s cancel that did not take effect', async (code) => {
    const deploy = deployWith('IN_PROGRESS');
    deploy.fail('cancelRun', code);
    await expect(decideRun(deploy, target, { dryRun: false })).rejects.toBeInstanceOf(
      RetryableError,
    );
    expect(deploy.runs.get(target.name)?.state).toBe('IN_PROGRESS');
  });

  it('settles a failed cancel whose run finished meanwhile as NOT_CANCELLABLE', async () => {
    const deploy = deployWith('IN_PROGRESS');
    deploy.fail('cancelRun', 'UNAVAILABLE');
    deploy.beforeCancel = (name) => deploy.setState(name, 'SUCCEEDED');
    expect(await decideRun(deploy, target, { dryRun: false })).toMatchObject({
      outcome: 'NOT_CANCELLABLE',
      stateAfter: 'SUCCEEDED',
    });
  });

  it('retries when the read after an ambiguous cancel fails too', async () => {
    const deploy = deployWith('IN_PROGRESS');
    deploy.fail('cancelRun', 'DEADLINE_EXCEEDED');
    deploy.beforeCancel = () => deploy.fail('getRun', 'UNAVAILABLE');
    await expect(decideRun(deploy, target, { dryRun: false })).rejects.toBeInstanceOf(
      RetryableError,
    );
  });

  it.each([
    ['PERMISSION_DENIED', 'PERMISSION_DENIED'],
    ['INVALID_ARGUMENT', 'FAILED'],
  ] as const)('maps a %s cancel to %s', async (code: GrpcCodeName, outcome) => {
    const deploy = deployWith('IN_PROGRESS');
    deploy.fail('cancelRun', code);
    expect(await decideRun(deploy, target, { dryRun: false })).toMatchObject({
      outcome,
      stateBefore: 'IN_PROGRESS',
      error: { code },
    });
  });

  it('a redelivered request finds the run cancelled and does not cancel it again', async () => {
    const deploy = deployWith('IN_PROGRESS');
    await decideRun(deploy, target, { dryRun: false });
    expect(await decideRun(deploy, target, { dryRun: false })).toMatchObject({
      outcome: 'NOT_CANCELLABLE',
    });
    expect(deploy.cancels.get(target.name)).toBe(1);
  });
});
