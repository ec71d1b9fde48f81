import type { PubSub, Topic } from '@google-cloud/pubsub';
import { auditAttributes } from './audit-builder';
import type { AuditEvent } from './audit-event';
import type { AuditPort } from './ports';

export interface PubSubAuditOptions {
  /** `projects/P/topics/T` */
  readonly topic: string;
  /** `host:port` of a Pub/Sub emulator; otherwise the real service. */
  readonly emulatorHost?: string | undefined;
  /** How long a publish may wait for its batch to fill: latency against fewer requests. */
  readonly maxBatchDelayMs?: number;
}

/**
 * Publishes audit events with @google-cloud/pubsub, the only file that imports it. The
 * client is loaded and created on the first publish, keeping cold starts short.
 */
export function createPubSubAuditPort(
  options: PubSubAuditOptions,
): AuditPort & { close(): Promise<void> } {
  const project = /^projects\/([^/]+)\/topics\//.exec(options.topic)?.[1];
  let client: PubSub | undefined;
  let topic: Promise<Topic> | undefined;

  const getTopic = () => {
    topic ??= import('@google-cloud/pubsub').then(({ PubSub }) => {
      client = new PubSub({
        ...(project === undefined ? {} : { projectId: project }),
        // Against the emulator: plaintext and no credentials. The universe domain stops the
        // client asking the metadata server for one (a warning and a delay off Google Cloud);
        // on its own it would switch emulator detection off, so it only goes with emulatorMode.
        ...(options.emulatorHost === undefined
          ? {}
          : {
              apiEndpoint: options.emulatorHost,
              emulatorMode: true,
              universeDomain: 'googleapis.com',
            }),
      });
      return client.topic(options.topic, {
        batching: { maxMessages: 100, maxMilliseconds: options.maxBatchDelayMs ?? 1 },
        gaxOpts: { timeout: 10_000 },
      });
    });
    return topic;
  };

  return {
    async publishAudit(event: AuditEvent) {
      const target = await getTopic();
      await target.publishMessage({ json: event, attributes: auditAttributes(event) });
    },
    async close() {
      if (topic === undefined) return;
      const target = await topic.catch(() => undefined);
      await target?.flush().catch(() => undefined);
      await client?.close();
    },
  };
}
