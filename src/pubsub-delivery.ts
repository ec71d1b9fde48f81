/**
 * Reads the Pub/Sub message out of whatever the Functions Framework hands the function:
 * an Eventarc CloudEvent (`data: {message, subscription}`), a converted raw push body
 * (the same shape), or a raw push body whose message has no data, which the framework
 * passes through unconverted (`{message, subscription}` at the top level).
 * @see https://cloud.google.com/eventarc/docs/cloudevents#pubsub
 */
export interface PubSubDelivery {
  readonly messageId: string | null;
  readonly publishTime: Date | null;
  /** The CloudEvent `time`, else the publish time: what message age is measured from. */
  readonly eventTime: Date | null;
  /** Base64 message data as delivered; null when the message carries none. */
  readonly data: string | null;
  readonly attributes: Readonly<Record<string, string>>;
  readonly subscription: string | null;
}

type Record_ = Record<string, unknown>;

const isRecord = (value: unknown): value is Record_ =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const text = (value: unknown): string | null =>
  typeof value === 'string' && value !== '' ? value : null;

function time(value: unknown): Date | null {
  if (typeof value !== 'string' || value === '') return null;
  const parsed = new Date(value);
  return Number.isNaN(parsed.getTime()) ? null : parsed;
}

function stringAttributes(value: unknown): Record<string, string> {
  if (!isRecord(value)) return {};
  const attributes: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry === 'string') attributes[key] = entry;
  }
  return attributes;
}

/** Returns the delivery, or undefined when the event holds no Pub/Sub message at all. */
export function readDelivery(event: unknown): PubSubDelivery | undefined {
  if (!isRecord(event)) return undefined;
  const body = isRecord(event.data) ? event.data : isRecord(event.message) ? event : undefined;
  if (body === undefined || !isRecord(body.message)) return undefined;
  const message = body.message;
  const publishTime = time(message.publishTime) ?? time(message.publish_time);
  const data = message.data;
  return {
    messageId: text(message.messageId) ?? text(message.message_id) ?? text(event.id),
    publishTime,
    eventTime: time(event.time) ?? publishTime,
    data: typeof data === 'string' && data !== '' ? data : null,
    attributes: stringAttributes(message.attributes),
    subscription: text(body.subscription),
  };
}
