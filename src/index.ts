import { cloudEvent } from '@google-cloud/functions-framework';
import { ConfigError } from './config';
import { createFunctionFromEnvironment } from './function';

try {
  // `--entry-point=cancelAutomationRuns`. The deployed build bundles this module
  // (dist/function/function.js), loaded by src/main.ts.
  const cancelFunction = createFunctionFromEnvironment();
  cloudEvent('cancelAutomationRuns', cancelFunction.handle);
  // Once the framework has taken the module and started listening, not inside the first
  // message: the clients' channels then connect while the rest of the start goes on.
  setImmediate(cancelFunction.warmUp);
} catch (error) {
  // A bad configuration stops the instance at start with one line, not at the first message.
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
