import type { CloudEvent } from '@google-cloud/functions-framework';
import { buildAuditEvent, type RequestContext } from './audit-builder';
import type { AuditEvent } from './audit-event';
import type { Config } from './config';
import { type Decision, messageDecision } from './decision';
import { RetryableError } from './errors/retryable-error';
import type { Logger } from './logger';
import { type ParseResult, parseRequest } from './parse-request';
import type { AuditPort, Clock, DeployPort } from './ports';
import { processRequest } from './process-request';
import { type PubSubDelivery, readDelivery } from './pubsub-delivery';
import { UnpublishedAudits } from './unpublished-audits';

export interface HandlerDependencies {
  readonly config: Config;
  readonly deploy: DeployPort;
  readonly audit: AuditPort;
  readonly clock: Clock;
  readonly logger: Logger;
  /** How long one message may keep starting new runs; the rest waits for redelivery. */
  readonly timeBudgetMs?: number;
}

/**
 * The longest one run's calls can take with the adapter's deadlines (a read with its
 * retries, the cancel, a read again): no new run starts later than this before the timeout.
 */
export const RUN_WORST_CASE_MS = 50_000;

/** How long a message may keep starting runs inside a function timeout. */
export function timeBudgetMs(functionTimeoutSeconds: number): number {
  const timeoutMs = functionTimeoutSeconds * 1000;
  return Math.max(timeoutMs - RUN_WORST_CASE_MS, Math.floor(timeoutMs / 6));
}

/**
 * Builds the CloudEvent function. It returns (Pub/Sub acks) once every decision is audited,
 * and throws a {@link RetryableError} (Pub/Sub redelivers) on any transient failure.
 */
export function createCancelHandler(dependencies: HandlerDependencies) {
  const { config, deploy, audit, clock, logger } = dependencies;
  const budgetMs = dependencies.timeBudgetMs ?? timeBudgetMs(config.functionTimeoutSeconds);
  const unpublished = new UnpublishedAudits();

  return async function cancelAutomationRuns(event: CloudEvent<unknown>): Promise<void> {
    const started = clock.now();
    const delivery = readDelivery(event);
    const parsed: ParseResult =
      delivery === undefined
        ? {
            ok: false,
            source: 'REQUEST',
            message: 'the event carries no Pub/Sub message',
            partial: {},
          }
        : parseRequest(delivery.data, {
            defaultLocation: config.defaultLocation,
            defaultProject: config.project,
          });
    const context = requestContext(parsed, delivery, config);

    const publishing: { event: AuditEvent; result: Promise<void> }[] = [];
    const publish = (auditEvent: AuditEvent) =>
      publishing.push({ event: auditEvent, result: audit.publishAudit(auditEvent) });
    // Decisions made by an earlier delivery of this message that never reached the topic.
    const carried = unpublished.take(context.messageId);
    const carriedIds = new Set(carried.map((auditEvent) => auditEvent.eventId));
    for (const auditEvent of carried) publish(auditEvent);
    const sink = (decision: Decision) => {
      const auditEvent = buildAuditEvent(decision, context, clock.now());
      if (carriedIds.has(auditEvent.eventId)) return;
      logger.decision(auditEvent);
      publish(auditEvent);
    };

    let failure: unknown;
    try {
      if (!parsed.ok) {
        sink(messageDecision('REJECTED', parsed.message));
      } else if (isExpired(delivery, started, config.maxEventAgeSeconds)) {
        sink(
          messageDecision(
            'EXPIRED',
            `the message is older than MAX_EVENT_AGE_SECONDS (${config.maxEventAgeSeconds})`,
          ),
        );
      } else if (parsed.request.kind === 'ignore') {
        sink(messageDecision('IGNORED', parsed.request.why));
      } else {
        await processRequest(
          parsed.request,
          deploy,
          {
            allowedPipelines: config.allowedPipelines,
            maxRuns: config.maxRunsPerEvent,
            concurrency: config.runConcurrency,
            dryRun: context.dryRun,
            anchor: delivery?.publishTime ?? delivery?.eventTime ?? started,
            deadline: new Date(started.getTime() + budgetMs),
            now: () => clock.now(),
          },
          sink,
        );
      }
    } catch (error) {
      failure = error;
    }

    const published = await Promise.allSettled(publishing.map((entry) => entry.result));
    const auditFailures = published.flatMap((result) =>
      result.status === 'rejected' ? [result.reason] : [],
    );
    unpublished.keep(
      context.messageId,
      publishing.flatMap((entry, index) =>
        published[index]?.status === 'rejected' ? [entry.event] : [],
      ),
    );
    if (failure === undefined && auditFailures.length === 0) return;

    const failures = [
      ...(failure instanceof RetryableError
        ? failure.failures
        : failure === undefined
          ? []
          : [failure]),
      ...auditFailures,
    ];
    const message =
      auditFailures.length > 0
        ? `${auditFailures.length} audit event${auditFailures.length > 1 ? 's' : ''} not published`
        : failure instanceof Error
          ? failure.message
          : String(failure);
    logger.retry(message, failures);
    throw failure instanceof RetryableError && auditFailures.length === 0
      ? failure
      : new RetryableError(message, failures);
  };
}

function isExpired(
  delivery: PubSubDelivery | undefined,
  now: Date,
  maxAgeSeconds: number,
): boolean {
  const time = delivery?.eventTime;
  return time != null && now.getTime() - time.getTime() > maxAgeSeconds * 1000;
}

function requestContext(
  parsed: ParseResult,
  delivery: PubSubDelivery | undefined,
  config: Config,
): RequestContext & { readonly dryRun: boolean } {
  const fields = parsed.ok ? parsed.request : parsed.partial;
  const source = parsed.ok ? parsed.request.source : parsed.source;
  return {
    source,
    messageId: delivery?.messageId ?? null,
    publishTime: delivery?.publishTime ?? null,
    requestId: fields.requestId ?? null,
    incidentId: fields.incidentId ?? null,
    policyName: fields.policyName ?? null,
    reason: fields.reason ?? null,
    dryRun: config.dryRun || (parsed.ok && parsed.request.dryRun),
  };
}
