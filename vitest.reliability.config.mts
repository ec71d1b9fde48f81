import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// One figures file per run; kept in the environment so a second load of this config agrees.
process.env.RELIABILITY_FIGURES_FILE ??= join(
  mkdtempSync(join(tmpdir(), 'reliability-figures-')),
  'figures.jsonl',
);
const figuresFile = process.env.RELIABILITY_FIGURES_FILE;

export default defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    provide: { reliabilityFiguresFile: figuresFile },
    reporters: [
      'default',
      ['./test/reliability/support/figures-reporter.ts', { file: figuresFile }],
    ],
    // One file at a time: the floods and the crash test each load both cores on their own.
    fileParallelism: false,
    testTimeout: 240_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
  },
});
