/** The emulators every part of the benchmark shares, started once. */
import { CloudDeployEmulator } from '../../src/emulator/deploy-emulator';
import { PubSubEmulator } from '../../src/emulator/pubsub-emulator';
import { PubSubFixtures } from '../../src/emulator/pubsub-fixtures';

export const PIPELINE = 'projects/bench-proj/locations/us-central1/deliveryPipelines/web';
export const ALLOWED_PIPELINES = 'projects/bench-proj/locations/*/deliveryPipelines/*';

export interface BenchEnvironment {
  readonly pubsubEmulator: PubSubEmulator;
  readonly pubsub: PubSubFixtures;
  readonly deploy: CloudDeployEmulator;
  readonly auditTopic: string;
  /** The function's configuration, pointed at the emulators. */
  readonly functionEnv: Record<string, string>;
  /** Seeds one IN_PROGRESS run and returns its name. */
  seedInFlightRun(): string;
  stop(): Promise<void>;
}

export async function startEnvironment(): Promise<BenchEnvironment> {
  const pubsubEmulator = await PubSubEmulator.start({ project: 'local-project' });
  const pubsub = new PubSubFixtures({ host: pubsubEmulator.host, project: 'local-project' });
  const deploy = await CloudDeployEmulator.start();
  const auditTopic = (await pubsub.createTopic(pubsub.uniqueName('audit'))).name;
  let counter = 0;
  return {
    pubsubEmulator,
    pubsub,
    deploy,
    auditTopic,
    functionEnv: {
      AUDIT_TOPIC: auditTopic,
      ALLOWED_PIPELINES,
      GOOGLE_CLOUD_PROJECT: 'local-project',
      PUBSUB_EMULATOR_HOST: pubsubEmulator.host,
      CLOUD_DEPLOY_EMULATOR_HOST: deploy.host,
    },
    seedInFlightRun() {
      counter += 1;
      const name = `${PIPELINE}/automationRuns/run-${process.pid}-${counter}`;
      deploy.seedRun({ name, state: 'IN_PROGRESS', targetId: 'prod' });
      return name;
    },
    async stop() {
      await pubsub.cleanup();
      await deploy.stop();
      await pubsubEmulator.stop();
    },
  };
}
