import { describe, expect, it } from 'vitest';
import { settleWithConcurrency } from '../src/concurrency';

describe('settleWithConcurrency', () => {
  it('never runs more than the limit at once and keeps the order of results', async () => {
    let running = 0;
    let peak = 0;
    const results = await settleWithConcurrency([5, 1, 4, 2, 3, 0], 2, async (value) => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, value));
      running -= 1;
      return value * 10;
    });
    expect(peak).toBe(2);
    expect(results.map((result) => (result.status === 'fulfilled' ? result.value : null))).toEqual([
      50, 10, 40, 20, 30, 0,
    ]);
  });

  it('attempts every item although some fail', async () => {
    const seen: number[] = [];
    const results = await settleWithConcurrency([1, 2, 3], 1, async (value) => {
      seen.push(value);
      if (value === 1) throw new Error('one');
      return value;
    });
    expect(seen).toEqual([1, 2, 3]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
  });

  it('handles no items', async () => {
    expect(await settleWithConcurrency([], 4, async () => 1)).toEqual([]);
  });
});
