/**
 * Writes the bundle's code cache (see src/bundle-loader.ts) by running it once.
 *
 * A child process loads the bundle as an instance would and decides a few requests (a named
 * run, a sweep, a malformed message) against a local gRPC server that answers the three
 * Cloud Deploy calls and Publish. The code V8 compiled on the way, the clients' included, is
 * then saved. Real credentials are never needed: the function is pointed at the local server
 * as at an emulator.
 */
import { fork } from 'node:child_process';
import { resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { DEPLOYED_NODE_OPTIONS, loadBundle, writeCodeCache } from '../../src/bundle-loader';

const PROJECT = 'code-cache';
const PIPELINE = `projects/${PROJECT}/locations/us-central1/deliveryPipelines/web`;
const TRAINING_ENV = {
  AUDIT_TOPIC: `projects/${PROJECT}/topics/audit`,
  ALLOWED_PIPELINES: `projects/${PROJECT}/locations/*/deliveryPipelines/*`,
  GOOGLE_CLOUD_PROJECT: PROJECT,
};

type Handler = grpc.handleUnaryCall<Record<string, unknown>, Record<string, unknown>>;

function service(protosJson: string, name: string): grpc.ServiceDefinition {
  const definition = protoLoader.fromJSON(require(protosJson), { defaults: false, oneofs: true });
  const object = grpc.loadPackageDefinition(definition);
  const client = name
    .split('.')
    .reduce<unknown>((scope, part) => (scope as Record<string, unknown>)[part], object);
  return (client as grpc.ServiceClientConstructor).service;
}

function timestamp(secondsAgo: number) {
  return { seconds: String(Math.floor(Date.now() / 1000) - secondsAgo), nanos: 0 };
}

function run(id: string) {
  return {
    name: `${PIPELINE}/automationRuns/${id}`,
    state: 'IN_PROGRESS',
    targetId: 'prod',
    automationId: 'promote',
    ruleId: 'promote-rule',
    createTime: timestamp(3600),
    updateTime: timestamp(60),
  };
}

/** Answers the calls the function makes, as a healthy API would. */
async function startServer(): Promise<{ host: string; stop(): void }> {
  const server = new grpc.Server();
  const getAutomationRun: Handler = (call, callback) => {
    const name = String(call.request.name);
    callback(null, { ...run(name.slice(name.lastIndexOf('/') + 1)), name });
  };
  const listAutomationRuns: Handler = (_call, callback) =>
    callback(null, { automationRuns: [run('listed-1'), run('listed-2')], nextPageToken: '' });
  const cancelAutomationRun: Handler = (_call, callback) => callback(null, {});
  const publish: Handler = (call, callback) => {
    const messages = call.request.messages as unknown[];
    callback(null, { messageIds: messages.map((_, index) => String(index + 1)) });
  };
  server.addService(
    service('@google-cloud/deploy/build/protos/protos.json', 'google.cloud.deploy.v1.CloudDeploy'),
    { getAutomationRun, listAutomationRuns, cancelAutomationRun },
  );
  server.addService(
    service('@google-cloud/pubsub/build/protos/protos.json', 'google.pubsub.v1.Publisher'),
    { publish },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error === null ? resolve(bound) : reject(error),
    ),
  );
  return { host: `127.0.0.1:${port}`, stop: () => server.forceShutdown() };
}

function messagePublished(index: number, data: string) {
  const now = new Date().toISOString();
  const messageId = `code-cache-${index}`;
  return {
    id: messageId,
    specversion: '1.0',
    type: 'google.cloud.pubsub.topic.v1.messagePublished',
    source: `//pubsub.googleapis.com/projects/${PROJECT}/topics/requests`,
    time: now,
    data: {
      message: {
        data: Buffer.from(data, 'utf8').toString('base64'),
        attributes: {},
        messageId,
        publishTime: now,
      },
      subscription: `projects/${PROJECT}/subscriptions/requests`,
    },
  };
}

/** In the child: load, decide, save. */
async function train(directory: string): Promise<number> {
  const bundle = loadBundle(directory);
  const { getFunction } = require('@google-cloud/functions-framework/testing') as {
    getFunction(name: string): ((event: unknown) => Promise<void>) | undefined;
  };
  const handler = getFunction('cancelAutomationRuns');
  if (handler === undefined) throw new Error('the bundle registered no cancelAutomationRuns');
  const requests = [
    { automationRun: `${PIPELINE}/automationRuns/named`, reason: 'code cache' },
    { pipeline: PIPELINE, olderThanSeconds: 60, reason: 'code cache' },
    { automationRun: 'not a run name' },
  ];
  for (const [index, request] of requests.entries()) {
    await handler(messagePublished(index, JSON.stringify(request)));
  }
  await handler(messagePublished(requests.length, '{not json'));
  return writeCodeCache(bundle, directory);
}

/** Writes `directory`'s code cache; resolves with its size in bytes. */
export async function buildCodeCache(directory: string): Promise<number> {
  const absolute = resolve(directory);
  const server = await startServer();
  try {
    const child = fork(__filename, ['--train', absolute], {
      env: {
        PATH: process.env.PATH ?? '',
        // The flags of a deployed instance: V8 refuses a cache made under others.
        NODE_OPTIONS: DEPLOYED_NODE_OPTIONS,
        ...TRAINING_ENV,
        CLOUD_DEPLOY_EMULATOR_HOST: server.host,
        PUBSUB_EMULATOR_HOST: server.host,
      },
      // Decision logs are not the build's output.
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    let bytes: number | undefined;
    child.on('message', (message: { bytes: number }) => {
      bytes = message.bytes;
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0 || bytes === undefined) {
      throw new Error(`writing the code cache failed (exit ${code}): ${stderr}`);
    }
    return bytes;
  } finally {
    server.stop();
  }
}

if (require.main === module && process.argv[2] === '--train') {
  train(process.argv[3] ?? '')
    // The clients' channels stay open: exit once the parent has the answer.
    .then((bytes) => process.send?.({ bytes }, () => process.exit(0)))
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}
