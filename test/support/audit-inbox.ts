import type { Subscription } from '@google-cloud/pubsub';
import type { AuditEvent } from '../../src/audit-event';
import type { PubSubFixtures, ReceivedMessage } from '../../src/emulator/pubsub-fixtures';

/**
 * Keeps every audit message pulled from one subscription, so that tests waiting for
 * different requests at the same time never ack away each other's events.
 */
export class AuditInbox {
  readonly received: ReceivedMessage[] = [];

  constructor(
    private readonly fixtures: PubSubFixtures,
    private readonly subscription: Subscription | string,
  ) {}

  /** Events of one request message: waits for `count`, returns what arrived in time. */
  async of(messageId: string, count: number, timeoutMs = 20_000): Promise<ReceivedMessage[]> {
    return this.waitFor(
      (message) => (message.data as AuditEvent).request?.messageId === messageId,
      count,
      timeoutMs,
    );
  }

  async waitFor(
    predicate: (message: ReceivedMessage) => boolean,
    count: number,
    timeoutMs = 20_000,
  ): Promise<ReceivedMessage[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const matching = this.received.filter(predicate);
      if (matching.length >= count || Date.now() >= deadline) return matching;
      const batch = await this.fixtures.collect(this.subscription, {
        count: 10_000,
        timeoutMs: Math.min(300, Math.max(1, deadline - Date.now())),
      });
      this.received.push(...batch);
    }
  }
}
