import { writeFileSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';
import { figuresLine, readFigureRecords, sumFigures } from './figures';

/**
 * Sums what every reliability test recorded and prints one line, last. The run fails when a
 * decision was lost, a run was cancelled twice, nothing was recorded, or (on CI) a test skipped.
 */
export default class FiguresReporter implements Reporter {
  private readonly file: string;

  constructor(options: { readonly file: string }) {
    this.file = options.file;
  }

  onInit(): void {
    // A fresh run starts from nothing, whatever an earlier run left in the file.
    writeFileSync(this.file, '');
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const records = readFigureRecords(this.file);
    const total = sumFigures(records);
    const problems: string[] = [];
    if (records.length === 0) problems.push('no test recorded its figures');
    if (total.lost > 0) {
      const tests = records.filter((record) => record.lost > 0).map((record) => record.test);
      problems.push(`decisions lost in: ${tests.join('; ')}`);
    }
    if (total.doubleCancelled > 0) {
      const tests = records
        .filter((record) => record.doubleCancelled > 0)
        .map((record) => record.test);
      problems.push(`runs cancelled twice in: ${tests.join('; ')}`);
    }
    const skipped = testModules.flatMap((module) =>
      [...module.children.allTests()].filter((test) => test.result().state === 'skipped'),
    );
    if (process.env.CI === 'true' && skipped.length > 0) {
      problems.push(
        `${skipped.length} test(s) skipped on CI: ${skipped.map((test) => test.fullName).join('; ')}`,
      );
    }
    if (problems.length > 0) {
      process.exitCode = 1;
      for (const problem of problems)
        process.stdout.write(`reliability check failed: ${problem}\n`);
    }
    process.stdout.write(`${figuresLine(total)}\n`);
  }
}
