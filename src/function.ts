import { createCloudDeployPort } from './cloud-deploy';
import { type Config, parseConfig } from './config';
import { createCancelHandler } from './handler';
import { createLogger } from './logger';
import { systemClock } from './ports';
import { createPubSubAuditPort } from './pubsub-audit';

/** Wires the real adapters to the handler from a parsed configuration. */
export function createFunction(config: Config) {
  return createCancelHandler({
    config,
    deploy: createCloudDeployPort({ emulatorHost: config.cloudDeployEmulatorHost }),
    audit: createPubSubAuditPort({
      topic: config.auditTopic,
      emulatorHost: config.pubsubEmulatorHost,
    }),
    clock: systemClock,
    logger: createLogger(),
  });
}

/** Parses the environment and builds the function; throws ConfigError naming each bad variable. */
export function createFunctionFromEnvironment(environment: NodeJS.ProcessEnv = process.env) {
  return createFunction(parseConfig(environment));
}
