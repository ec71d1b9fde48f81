import type { CloudEvent } from '@google-cloud/functions-framework';

let sequence = 0;

/** The CloudEvent the Functions Framework hands the function for one Pub/Sub message. */
export function messagePublished(data: unknown): CloudEvent<unknown> {
  sequence += 1;
  const now = new Date().toISOString();
  const messageId = `bench-${process.pid}-${sequence}`;
  return {
    id: messageId,
    specversion: '1.0',
    type: 'google.cloud.pubsub.topic.v1.messagePublished',
    source: '//pubsub.googleapis.com/projects/local-project/topics/requests',
    time: now,
    data: {
      message: {
        data: Buffer.from(JSON.stringify(data), 'utf8').toString('base64'),
        attributes: {},
        messageId,
        publishTime: now,
      },
      subscription: 'projects/local-project/subscriptions/bench',
    },
  };
}
