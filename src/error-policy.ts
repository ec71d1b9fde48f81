import { DeployApiError, type GrpcCodeName } from './errors/deploy-api-error';
import { RetryableError } from './errors/retryable-error';
import type { Outcome } from './outcomes';

/**
 * Ack or retry is decided here and nowhere else. A transient failure is retried by Pub/Sub
 * redelivering the message; every other failure is a decision, audited and acked.
 */
export const TRANSIENT_CODES = [
  'UNAVAILABLE',
  'DEADLINE_EXCEEDED',
  'RESOURCE_EXHAUSTED',
  'INTERNAL',
  'UNKNOWN',
  'ABORTED',
] as const satisfies readonly GrpcCodeName[];

/** Codes after which a cancel may have taken effect although the call failed. */
export const AMBIGUOUS_CANCEL_CODES = [
  'DEADLINE_EXCEEDED',
  'UNAVAILABLE',
  'UNKNOWN',
  'INTERNAL',
] as const satisfies readonly GrpcCodeName[];

export function isTransientCode(code: GrpcCodeName): boolean {
  return (TRANSIENT_CODES as readonly string[]).includes(code);
}

export function isAmbiguousCancelCode(code: GrpcCodeName): boolean {
  return (AMBIGUOUS_CANCEL_CODES as readonly string[]).includes(code);
}

export type ApiErrorDecision =
  | { readonly retry: true; readonly error: RetryableError }
  | { readonly retry: false; readonly outcome: Outcome; readonly error: DeployApiError };

/** The outcome for a failed Cloud Deploy call, or the retry it calls for. */
export function decideApiError(thrown: unknown, method: string): ApiErrorDecision {
  const error = DeployApiError.from(method, thrown);
  if (isTransientCode(error.code)) {
    return { retry: true, error: new RetryableError(error.message, [error]) };
  }
  switch (error.code) {
    case 'NOT_FOUND':
      return { retry: false, outcome: 'NOT_FOUND', error };
    case 'PERMISSION_DENIED':
      return { retry: false, outcome: 'PERMISSION_DENIED', error };
    default:
      return { retry: false, outcome: 'FAILED', error };
  }
}
