import type { AuditEvent } from './audit-event';

/**
 * Audit events this instance decided but could not publish, kept by request message id.
 * When Pub/Sub redelivers the message to the same instance, the original events are sent
 * instead of the redelivery's own: a run this function cancelled stays audited CANCELLED,
 * not NOT_CANCELLABLE, under the same eventId. Bounded, oldest message first out; a
 * redelivery to another instance falls back to the re-read decisions.
 */
export class UnpublishedAudits {
  private readonly byMessage = new Map<string, AuditEvent[]>();

  constructor(private readonly maxMessages = 1000) {}

  /** Removes and returns what is kept for a message. */
  take(messageId: string | null): AuditEvent[] {
    if (messageId === null) return [];
    const events = this.byMessage.get(messageId) ?? [];
    this.byMessage.delete(messageId);
    return events;
  }

  keep(messageId: string | null, events: readonly AuditEvent[]): void {
    if (messageId === null || events.length === 0) return;
    this.byMessage.delete(messageId);
    this.byMessage.set(messageId, [...events]);
    for (const oldest of this.byMessage.keys()) {
      if (this.byMessage.size <= this.maxMessages) break;
      this.byMessage.delete(oldest);
    }
  }

  get size(): number {
    return this.byMessage.size;
  }
}
