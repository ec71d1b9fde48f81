/**
 * The deployed entry point, package.json `main` (`dist/function/index.js`): runs the bundled
 * function (src/index.ts), which registers `cancelAutomationRuns` with the Functions
 * Framework, from its code cache when it has one.
 */
import { loadBundle } from './bundle-loader';

const { codeCache } = loadBundle(__dirname);
if (codeCache !== 'used') {
  // One line per instance, so a deployment can tell that its starts are slower than built.
  process.stdout.write(
    `${JSON.stringify({
      severity: 'INFO',
      message: `code cache ${codeCache}: the function was compiled at start`,
      codeCache,
    })}\n`,
  );
}
