/**
 * The deployed entry point, package.json `main` (`dist/function/index.js`): runs the bundled
 * function (src/index.ts), which registers `cancelAutomationRuns` with the Functions
 * Framework, from its code cache when it has one.
 */
import { loadBundle } from './bundle-loader';

loadBundle(__dirname);
