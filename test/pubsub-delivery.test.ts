import { describe, expect, it } from 'vitest';
import { readDelivery } from '../src/pubsub-delivery';

describe('readDelivery', () => {
  it('reads an Eventarc CloudEvent', () => {
    expect(
      readDelivery({
        id: 'ce-id',
        time: '2026-12-04T10:00:01Z',
        data: {
          message: {
            data: 'e30=',
            attributes: { a: 'b', n: 1 },
            messageId: 'm-1',
            publishTime: '2026-12-04T10:00:00Z',
          },
          subscription: 'projects/p/subscriptions/s',
        },
      }),
    ).toEqual({
      messageId: 'm-1',
      publishTime: new Date('2026-12-04T10:00:00Z'),
      eventTime: new Date('2026-12-04T10:00:01Z'),
      data: 'e30=',
      attributes: { a: 'b' },
      subscription: 'projects/p/subscriptions/s',
    });
  });

  it('reads snake_case message fields and falls back to the event id', () => {
    expect(
      readDelivery({
        id: 'ce-id',
        data: { message: { data: 'e30=', publish_time: '2026-12-04T10:00:00Z' } },
      }),
    ).toMatchObject({
      messageId: 'ce-id',
      publishTime: new Date('2026-12-04T10:00:00Z'),
      eventTime: new Date('2026-12-04T10:00:00Z'),
    });
    expect(readDelivery({ data: { message: { message_id: 'm-2' } } })?.messageId).toBe('m-2');
  });

  it('reads an unconverted raw push body whose message has no data', () => {
    expect(
      readDelivery({ message: { messageId: 'm-3', attributes: {} }, subscription: 's' }),
    ).toMatchObject({
      messageId: 'm-3',
      data: null,
      subscription: 's',
    });
  });

  it.each([null, 'text', 1, [], {}, { data: 'x' }, { data: { message: 'x' } }, { message: [] }])(
    'finds no message in %j',
    (event) => expect(readDelivery(event)).toBeUndefined(),
  );

  it('ignores unparseable times and non-string attributes', () => {
    expect(
      readDelivery({ time: 'yesterday', data: { message: { publishTime: 42, attributes: 'x' } } }),
    ).toMatchObject({
      publishTime: null,
      eventTime: null,
      attributes: {},
      data: null,
    });
  });
});
