/** Every decision the function can make; the audit's `outcome` and the log's. */
export const OUTCOMES = [
  'CANCELLED',
  'DRY_RUN',
  'NOT_CANCELLABLE',
  'NOT_FOUND',
  'DENIED',
  'PERMISSION_DENIED',
  'REJECTED',
  'IGNORED',
  'EXPIRED',
  'LIMIT_EXCEEDED',
  'FAILED',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

export function isOutcome(value: unknown): value is Outcome {
  return typeof value === 'string' && (OUTCOMES as readonly string[]).includes(value);
}

/** Where a request came from: named runs, a scheduled sweep, or a Cloud Monitoring alert. */
export const SOURCES = ['REQUEST', 'SWEEP', 'ALERT'] as const;
export type Source = (typeof SOURCES)[number];
