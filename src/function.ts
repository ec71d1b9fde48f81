import type { CloudEvent } from '@google-cloud/functions-framework';
import { createCloudDeployPort } from './cloud-deploy';
import { type Config, parseConfig } from './config';
import { createCancelHandler } from './handler';
import { createLogger } from './logger';
import { systemClock } from './ports';
import { createPubSubAuditPort } from './pubsub-audit';

export interface CancelFunction {
  /** The CloudEvent function the Functions Framework calls for each message. */
  readonly handle: (event: CloudEvent<unknown>) => Promise<void>;
  /**
   * Builds both clients and opens their channels in the background, so an instance that has
   * just started has them ready, or nearly, by its first message.
   */
  readonly warmUp: () => void;
}

/** Wires the real adapters to the handler from a parsed configuration. */
export function createFunction(config: Config): CancelFunction {
  const deploy = createCloudDeployPort({ emulatorHost: config.cloudDeployEmulatorHost });
  const audit = createPubSubAuditPort({
    topic: config.auditTopic,
    emulatorHost: config.pubsubEmulatorHost,
  });
  const handle = createCancelHandler({
    config,
    deploy,
    audit,
    clock: systemClock,
    logger: createLogger(),
  });
  return {
    handle,
    warmUp: () => {
      deploy.warmUp();
      audit.warmUp();
    },
  };
}

/** Parses the environment and builds the function; throws ConfigError naming each bad variable. */
export function createFunctionFromEnvironment(environment: NodeJS.ProcessEnv = process.env) {
  return createFunction(parseConfig(environment));
}
