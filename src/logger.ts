import type { AuditEvent } from './audit-event';
import type { Outcome } from './outcomes';

/**
 * Structured logs in the shape Cloud Logging reads from stdout: one JSON object a line.
 * Request data only ever appears JSON-escaped inside a field, never as free text.
 * @see https://cloud.google.com/functions/docs/monitoring/logging#writing_structured_logs
 */
export type Severity = 'DEBUG' | 'INFO' | 'NOTICE' | 'WARNING' | 'ERROR';

const SEVERITY_BY_OUTCOME: Record<Outcome, Severity> = {
  CANCELLED: 'NOTICE',
  DRY_RUN: 'INFO',
  NOT_CANCELLABLE: 'INFO',
  NOT_FOUND: 'WARNING',
  DENIED: 'WARNING',
  PERMISSION_DENIED: 'ERROR',
  REJECTED: 'WARNING',
  IGNORED: 'INFO',
  EXPIRED: 'WARNING',
  LIMIT_EXCEEDED: 'WARNING',
  FAILED: 'ERROR',
};

export interface Logger {
  decision(event: AuditEvent): void;
  retry(message: string, failures: readonly unknown[]): void;
}

/** JSON.stringify leaves NEL, U+2028 and U+2029 raw; some readers split lines on them. */
function serialize(entry: Record<string, unknown>): string {
  return JSON.stringify(entry).replace(
    /[\u0085\u2028\u2029]/g,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function describeFailure(failure: unknown): Record<string, unknown> {
  if (failure instanceof Error) {
    const code = (failure as { code?: unknown }).code;
    return {
      name: failure.name,
      message: failure.message,
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
  return { message: String(failure) };
}

export function createLogger(
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Logger {
  return {
    decision(event) {
      const subject = event.automationRun ?? event.pipeline ?? 'message';
      write(
        serialize({
          severity: SEVERITY_BY_OUTCOME[event.outcome],
          message: `${event.outcome} ${subject}`,
          ...event,
          source: event.request.source,
          'logging.googleapis.com/labels': { outcome: event.outcome, source: event.request.source },
        }),
      );
    },
    retry(message, failures) {
      write(
        serialize({
          severity: 'WARNING',
          message: `retrying: ${message}`,
          failures: failures.slice(0, 10).map(describeFailure),
        }),
      );
    },
  };
}
