import type { v1 } from '@google-cloud/pubsub';
import { auditAttributes } from './audit-builder';
import type { AuditEvent } from './audit-event';
import type { AuditPort } from './ports';
import { warmUpClient } from './warm-up';

type PublisherClient = InstanceType<typeof v1.PublisherClient>;
type PublisherOptions = NonNullable<ConstructorParameters<typeof v1.PublisherClient>[0]>;

export interface PubSubAuditOptions {
  /** `projects/P/topics/T` */
  readonly topic: string;
  /** `host:port` of a Pub/Sub emulator; otherwise the real service. */
  readonly emulatorHost?: string | undefined;
  /** The most messages one Publish request carries (Pub/Sub accepts up to 1000). */
  readonly maxBatchMessages?: number;
  /** How many Publish requests may be outstanding at once; events queue behind them. */
  readonly maxRequestsInFlight?: number;
}

/** The Pub/Sub methods this adapter calls; the deployed bundle carries their protos alone. */
export const PUBSUB_METHODS = ['Publish'] as const;

/** One Publish attempt's deadline, retries included: well inside a function's timeout. */
const PUBLISH_TIMEOUT_MILLIS = 10_000;

interface Pending {
  readonly message: { data: Buffer; attributes: Record<string, string> };
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

function createClient(project: string | undefined, emulatorHost: string | undefined) {
  // Only the generated Publisher client, required at first use: the library's top-level
  // module (subscriber, flow control, tracing) more than doubles what a cold start loads.
  const { PublisherClient } =
    require('@google-cloud/pubsub/build/src/v1/publisher_client') as typeof v1;
  const options: PublisherOptions = project === undefined ? {} : { projectId: project };
  if (emulatorHost === undefined) return new PublisherClient(options);
  const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
  const separator = emulatorHost.lastIndexOf(':');
  return new PublisherClient({
    ...options,
    apiEndpoint: emulatorHost.slice(0, separator).replace(/^\[(.*)\]$/, '$1'),
    port: Number(emulatorHost.slice(separator + 1)),
    // Plaintext and no credentials, as the emulator expects; the universe domain stops the
    // client asking the metadata server for one.
    sslCreds: grpc.credentials.createInsecure(),
    universeDomain: 'googleapis.com',
  });
}

/**
 * Publishes audit events with @google-cloud/pubsub, the only file that imports it. The
 * client is loaded and created on the first publish, keeping cold starts short.
 */
export function createPubSubAuditPort(
  options: PubSubAuditOptions,
): AuditPort & { warmUp(): void; close(): Promise<void> } {
  const project = /^projects\/([^/]+)\/topics\//.exec(options.topic)?.[1];
  const maxBatch = options.maxBatchMessages ?? 100;
  let client: PublisherClient | undefined;
  // More than one, so that events queued behind a Publish that is failing slowly (the
  // topic unreachable until the deadline) are not held for a second deadline.
  const maxInFlight = options.maxRequestsInFlight ?? 4;
  const queue: Pending[] = [];
  let scheduled = false;
  const inFlight = new Set<Promise<void>>();

  const send = async (batch: readonly Pending[]) => {
    try {
      client ??= createClient(project, options.emulatorHost);
      await client.publish(
        { topic: options.topic, messages: batch.map((pending) => pending.message) },
        // The generated client otherwise bundles Publish calls behind a 10 ms timer; the
        // queue here already groups events, so each request goes out at once.
        { timeout: PUBLISH_TIMEOUT_MILLIS, isBundling: false },
      );
      for (const pending of batch) pending.resolve();
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    }
  };

  // Group commit: a lone event goes out at once; while a Publish is in flight, the events
  // decided meanwhile wait for it and then go out together, so a sweep of many runs costs
  // a few requests rather than one per run, and no event waits on a timer.
  const flush = () => {
    scheduled = false;
    if (inFlight.size >= maxInFlight || queue.length === 0) return;
    const batch = queue.splice(0, maxBatch);
    const sending = send(batch);
    inFlight.add(sending);
    void sending.finally(() => {
      inFlight.delete(sending);
      flush();
    });
    if (queue.length > 0) flush();
  };

  return {
    publishAudit(event: AuditEvent) {
      return new Promise<void>((resolve, reject) => {
        const data = Buffer.from(JSON.stringify(event), 'utf8');
        queue.push({ message: { data, attributes: auditAttributes(event) }, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    /** Builds the client and opens its channel now, in the background. */
    warmUp() {
      try {
        client ??= createClient(project, options.emulatorHost);
      } catch {
        // The first publish builds it again and reports why it cannot.
        return;
      }
      warmUpClient(client);
    },
    async close() {
      flush();
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      const opened = client;
      client = undefined;
      await opened?.close().catch(() => undefined);
    },
  };
}
