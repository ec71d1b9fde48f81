import { cloudEvent } from '@google-cloud/functions-framework';
import { ConfigError } from './config';
import { createFunctionFromEnvironment } from './function';

try {
  // The deployed entry point: `--entry-point=cancelAutomationRuns`.
  cloudEvent('cancelAutomationRuns', createFunctionFromEnvironment());
} catch (error) {
  // A bad configuration stops the instance at start with one line, not at the first message.
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
