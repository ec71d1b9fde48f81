import { randomUUID } from 'node:crypto';
import { PubSub, type protos, type Subscription, type Topic, v1 } from '@google-cloud/pubsub';

/** Where the emulator listens; a {@link PubSubEmulator} is one. */
export interface EmulatorAddress {
  /** `host:port`. */
  readonly host: string;
  readonly project: string;
}

/** A message as a test sees it: data parsed when it is JSON. */
export interface ReceivedMessage {
  /** The data parsed as JSON; the text when it is not JSON; `null` when empty. */
  data: unknown;
  /** The data exactly as published. */
  rawData: Buffer;
  attributes: Record<string, string>;
  messageId: string;
  publishTime: string | undefined;
}

export interface PushSubscriptionOptions {
  name?: string;
  /** Default 10 s, the least Pub/Sub accepts. */
  ackDeadlineSeconds?: number;
  /** Retry policy; default 1 s to 2 s so redelivery in tests is quick. */
  minimumBackoffSeconds?: number;
  maximumBackoffSeconds?: number;
}

export interface PullSubscriptionOptions {
  name?: string;
  ackDeadlineSeconds?: number;
}

export interface CollectOptions {
  count: number;
  /** Give up after this long and return what has arrived. Default 10 s. */
  timeoutMs?: number;
  /** Only messages that pass are kept (the others are acked all the same). */
  filter?: (message: ReceivedMessage) => boolean;
}

type PulledMessage = protos.google.pubsub.v1.IReceivedMessage;

function parseData(raw: Buffer): unknown {
  if (raw.length === 0) return null;
  const text = raw.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function toReceived(pulled: PulledMessage): ReceivedMessage {
  const message = pulled.message ?? {};
  const data = message.data;
  const rawData =
    typeof data === 'string' ? Buffer.from(data, 'base64') : Buffer.from(data ?? new Uint8Array());
  const seconds = Number(message.publishTime?.seconds ?? Number.NaN);
  const millis = Math.floor((message.publishTime?.nanos ?? 0) / 1e6);
  return {
    data: parseData(rawData),
    rawData,
    attributes: { ...(message.attributes ?? {}) },
    messageId: message.messageId ?? '',
    publishTime: Number.isFinite(seconds)
      ? new Date(seconds * 1000 + millis).toISOString()
      : undefined,
  };
}

/**
 * Topics, subscriptions, publishing and pulling on the Pub/Sub emulator, through the real
 * client. The endpoint is passed explicitly, so `PUBSUB_EMULATOR_HOST` in this process does
 * not matter. {@link cleanup} deletes every resource made here.
 */
export class PubSubFixtures {
  readonly pubsub: PubSub;
  readonly project: string;
  readonly #prefix = randomUUID().slice(0, 8);
  #counter = 0;
  #subscriber: Promise<v1.SubscriberClient> | undefined;
  readonly #topics = new Set<string>();
  readonly #subscriptions = new Set<string>();

  constructor(address: EmulatorAddress) {
    this.project = address.project;
    // emulatorMode: plaintext, no credentials. A universe domain given here stops the client
    // asking the GCE metadata server for one (a warning and a delay off Google Cloud).
    this.pubsub = new PubSub({
      projectId: address.project,
      apiEndpoint: address.host,
      emulatorMode: true,
      universeDomain: 'googleapis.com',
    });
  }

  /** A name no other test run uses. */
  uniqueName(label: string): string {
    this.#counter += 1;
    return `${label}-${this.#prefix}-${this.#counter}`;
  }

  /** `projects/P/topics/T` for a short topic name. */
  topicPath(topic: string): string {
    return topic.startsWith('projects/') ? topic : `projects/${this.project}/topics/${topic}`;
  }

  async createTopic(name = this.uniqueName('topic')): Promise<Topic> {
    const [topic] = await this.pubsub.createTopic(name);
    this.#topics.add(topic.name);
    return topic;
  }

  async createPullSubscription(
    topic: Topic | string,
    options: PullSubscriptionOptions = {},
  ): Promise<Subscription> {
    const name = options.name ?? this.uniqueName('pull');
    const [subscription] = await this.pubsub
      .topic(this.#topicName(topic))
      .createSubscription(name, { ackDeadlineSeconds: options.ackDeadlineSeconds ?? 10 });
    this.#subscriptions.add(subscription.name);
    return subscription;
  }

  /** A push subscription that POSTs each message to `endpoint`, wrapped as `{message, subscription}`. */
  async createPushSubscription(
    topic: Topic | string,
    endpoint: string,
    options: PushSubscriptionOptions = {},
  ): Promise<Subscription> {
    const name = options.name ?? this.uniqueName('push');
    const [subscription] = await this.pubsub
      .topic(this.#topicName(topic))
      .createSubscription(name, {
        ackDeadlineSeconds: options.ackDeadlineSeconds ?? 10,
        pushConfig: { pushEndpoint: endpoint },
        retryPolicy: {
          minimumBackoff: { seconds: options.minimumBackoffSeconds ?? 1 },
          maximumBackoff: { seconds: options.maximumBackoffSeconds ?? 2 },
        },
      });
    this.#subscriptions.add(subscription.name);
    return subscription;
  }

  /** Publishes `value` as UTF-8 JSON; resolves with the message id. */
  async publishJson(
    topic: Topic | string,
    value: unknown,
    attributes: Record<string, string> = {},
  ): Promise<string> {
    return this.publishRaw(topic, Buffer.from(JSON.stringify(value), 'utf8'), attributes);
  }

  /** Publishes bytes (or text as UTF-8) as they are; empty data needs at least one attribute. */
  async publishRaw(
    topic: Topic | string,
    data: Buffer | string,
    attributes: Record<string, string> = {},
  ): Promise<string> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    return this.pubsub.topic(this.#topicName(topic)).publishMessage({ data: bytes, attributes });
  }

  /**
   * Pulls and acks until `count` messages (after `filter`) arrived or the time is up, and
   * returns what arrived. Synchronous pull, so nothing keeps running once it returns.
   */
  async collect(
    subscription: Subscription | string,
    options: CollectOptions,
  ): Promise<ReceivedMessage[]> {
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    const received: ReceivedMessage[] = [];
    while (received.length < options.count && Date.now() < deadline) {
      const batch = await this.#pullOnce(subscription, Math.min(2_000, deadline - Date.now()));
      for (const message of batch) {
        if (options.filter === undefined || options.filter(message)) received.push(message);
      }
    }
    return received;
  }

  /** Pulls and acks everything until nothing arrives for `idleMs`; returns it all. */
  async drain(subscription: Subscription | string, idleMs = 1_000): Promise<ReceivedMessage[]> {
    const received: ReceivedMessage[] = [];
    let idleSince = Date.now();
    while (Date.now() - idleSince < idleMs) {
      const batch = await this.#pullOnce(subscription, idleMs);
      if (batch.length > 0) {
        received.push(...batch);
        idleSince = Date.now();
      }
    }
    return received;
  }

  async deleteSubscription(subscription: Subscription | string): Promise<void> {
    const name = this.#subscriptionName(subscription);
    await this.pubsub.subscription(name).delete();
    this.#subscriptions.delete(name);
  }

  async deleteTopic(topic: Topic | string): Promise<void> {
    const name = this.#topicName(topic);
    await this.pubsub.topic(name).delete();
    this.#topics.delete(name);
  }

  /** Forgets what was made without deleting it: after an emulator restart it is gone anyway. */
  forgetResources(): void {
    this.#topics.clear();
    this.#subscriptions.clear();
  }

  /** Deletes what this made (ignoring what is already gone) and closes the clients. */
  async cleanup(): Promise<void> {
    await Promise.allSettled([
      ...[...this.#subscriptions].map((name) => this.pubsub.subscription(name).delete()),
      ...[...this.#topics].map((name) => this.pubsub.topic(name).delete()),
    ]);
    this.forgetResources();
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    await (await subscriber)?.close();
    await this.pubsub.close();
  }

  async #pullOnce(
    subscription: Subscription | string,
    timeoutMs: number,
  ): Promise<ReceivedMessage[]> {
    const client = await this.#subscriberClient();
    const name = this.#subscriptionName(subscription);
    let response: protos.google.pubsub.v1.IPullResponse;
    try {
      [response] = await client.pull(
        { subscription: name, maxMessages: 100 },
        { timeout: Math.max(timeoutMs, 100), retry: null },
      );
    } catch (error) {
      // An empty long poll ends with DEADLINE_EXCEEDED: nothing yet, not a failure.
      if ((error as { code?: unknown }).code === 4) return [];
      throw error;
    }
    const messages = response.receivedMessages ?? [];
    const ackIds = messages.flatMap((message) => (message.ackId ? [message.ackId] : []));
    if (ackIds.length > 0) await client.acknowledge({ subscription: name, ackIds });
    return messages.map(toReceived);
  }

  #subscriberClient(): Promise<v1.SubscriberClient> {
    // The PubSub client's resolved options carry the emulator endpoint and plaintext credentials.
    this.#subscriber ??= this.pubsub
      .getClientConfig()
      .then(
        (config) =>
          new v1.SubscriberClient(config as ConstructorParameters<typeof v1.SubscriberClient>[0]),
      );
    return this.#subscriber;
  }

  #topicName(topic: Topic | string): string {
    return typeof topic === 'string' ? this.topicPath(topic) : topic.name;
  }

  #subscriptionName(subscription: Subscription | string): string {
    if (typeof subscription !== 'string') return subscription.name;
    return subscription.startsWith('projects/')
      ? subscription
      : `projects/${this.project}/subscriptions/${subscription}`;
  }
}
