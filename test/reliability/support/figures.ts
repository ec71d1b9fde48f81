import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { expect, inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** JSON-lines file each reliability test appends its figures to. */
    reliabilityFiguresFile: string;
  }
}

/** What one test injected, sent and observed. */
export interface Figures {
  /** Faults injected: Cloud Deploy errors and delays that fired, emulator stops, process kills. */
  readonly faults: number;
  /** Deliveries of a request that had already been delivered: copies and redeliveries. */
  readonly duplicates: number;
  /** Hostile, broken or generated inputs handed to the function. */
  readonly inputs: number;
  /** Request messages without any audit event, plus runs a message named or selected but never decided. */
  readonly lost: number;
  /** Runs that Cloud Deploy cancelled more than once. */
  readonly doubleCancelled: number;
}

export interface FigureRecord extends Figures {
  readonly test: string;
}

export const EMPTY_FIGURES: Figures = Object.freeze({
  faults: 0,
  duplicates: 0,
  inputs: 0,
  lost: 0,
  doubleCancelled: 0,
});

/**
 * Appends a test's figures to the run's figures file. Concurrent tests pass their own name:
 * the global expect state then names whichever test ran last.
 */
export function recordFigures(
  figures: Partial<Figures>,
  test = expect.getState().currentTestName ?? 'unnamed test',
): void {
  const record: FigureRecord = {
    test,
    ...EMPTY_FIGURES,
    ...figures,
  };
  appendFileSync(inject('reliabilityFiguresFile'), `${JSON.stringify(record)}\n`);
}

export function readFigureRecords(file: string): FigureRecord[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as FigureRecord);
}

export function sumFigures(records: readonly Figures[]): Figures {
  return records.reduce<Figures>(
    (total, record) => ({
      faults: total.faults + record.faults,
      duplicates: total.duplicates + record.duplicates,
      inputs: total.inputs + record.inputs,
      lost: total.lost + record.lost,
      doubleCancelled: total.doubleCancelled + record.doubleCancelled,
    }),
    EMPTY_FIGURES,
  );
}

export function figuresLine(figures: Figures): string {
  return `reliability: ${figures.faults} faults injected, ${figures.duplicates} duplicates, ${figures.inputs} inputs fuzzed, ${figures.lost} lost, ${figures.doubleCancelled} double-cancelled`;
}
