/** In-process stand-ins for the function's ports, so a measurement sees only our own code. */
import type { AutomationRun } from '../../src/automation-run';
import { DeployApiError } from '../../src/errors/deploy-api-error';
import type { AuditPort, DeployPort } from '../../src/ports';

/** Cloud Deploy as a map: every call answers at once. */
export class MemoryDeploy implements DeployPort {
  readonly runs = new Map<string, AutomationRun>();

  seed(runs: readonly AutomationRun[]): void {
    for (const run of runs) this.runs.set(run.name, run);
  }

  async getRun(name: string): Promise<AutomationRun> {
    const run = this.runs.get(name);
    if (run === undefined) {
      throw DeployApiError.from(
        'GetAutomationRun',
        Object.assign(new Error('not found'), { code: 5 }),
      );
    }
    return run;
  }

  async listRuns(pipeline: string): Promise<AutomationRun[]> {
    return [...this.runs.values()].filter((run) => run.name.startsWith(`${pipeline}/`));
  }

  async cancelRun(name: string): Promise<void> {
    const run = await this.getRun(name);
    this.runs.set(name, { ...run, state: 'CANCELLED' });
  }
}

/** Accepts every audit event at once and counts them. */
export class CountingAudit implements AuditPort {
  published = 0;

  async publishAudit(): Promise<void> {
    this.published += 1;
  }
}
