/**
 * Thrown out of the function so that the Functions Framework answers 500 and Pub/Sub
 * delivers the message again. Decisions made before it was thrown are already audited.
 */
export class RetryableError extends Error {
  override readonly name = 'RetryableError';
  /** Every transient failure behind this retry, the first also as `cause`. */
  readonly failures: readonly unknown[];

  constructor(message: string, failures: readonly unknown[] = []) {
    super(message, failures.length > 0 ? { cause: failures[0] } : undefined);
    this.failures = failures;
  }
}

export function isRetryableError(value: unknown): value is RetryableError {
  return value instanceof RetryableError;
}
