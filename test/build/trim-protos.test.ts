import { join } from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { TRIMMED_PROTOS } from '../../scripts/build/bundle';
import { trimProtos } from '../../scripts/build/trim-protos';
import { DEPLOY_METHODS } from '../../src/cloud-deploy';

const DEPLOY_PROTOS = '@google-cloud/deploy/build/protos/protos.json';
const full = require(DEPLOY_PROTOS) as protobuf.INamespace;
const kept = { 'google.cloud.deploy.v1.CloudDeploy': DEPLOY_METHODS };
const fullRoot = protobuf.Root.fromJSON(full);
const trimmedRoot = protobuf.Root.fromJSON(trimProtos(full, kept));
const RUN = 'google.cloud.deploy.v1.AutomationRun';

/** A run with every field the API defines set, nested messages included. */
function everyField(type: protobuf.Type, depth = 0): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    field.resolve();
    const sample = (() => {
      if (field.resolvedType instanceof protobuf.Type) {
        return depth < 4 ? everyField(field.resolvedType, depth + 1) : {};
      }
      if (field.resolvedType instanceof protobuf.Enum)
        return Object.values(field.resolvedType.values)[1];
      if (field.type === 'string') return `${field.name}-value`;
      if (field.type === 'bool') return true;
      if (field.type === 'bytes') return Buffer.from(field.name);
      return 7;
    })();
    if (field.map) value[field.name] = { key: sample };
    else if (field.repeated) value[field.name] = [sample, sample];
    else value[field.name] = sample;
  }
  // One member of each oneof, as the wire allows.
  for (const oneof of type.oneofsArray)
    for (const name of oneof.fieldsArray.slice(1).map((f) => f.name)) delete value[name];
  return value;
}

describe('trimmed protos', () => {
  it('keep only the methods the adapter calls', () => {
    const service = trimmedRoot.lookupService('google.cloud.deploy.v1.CloudDeploy');
    expect(Object.keys(service.methods)).toEqual([...DEPLOY_METHODS]);
    expect(
      Object.keys(fullRoot.lookupService('google.cloud.deploy.v1.CloudDeploy').methods).length,
    ).toBeGreaterThan(30);
  });

  it('decode every field of an AutomationRun as the full protos do', () => {
    const fullType = fullRoot.lookupType(RUN);
    const message = fullType.fromObject(everyField(fullType));
    const bytes = fullType.encode(message).finish();
    const options = { longs: String, enums: String, defaults: true, oneofs: true };
    const viaTrimmed = trimmedRoot
      .lookupType(RUN)
      .toObject(trimmedRoot.lookupType(RUN).decode(bytes), options);
    expect(viaTrimmed).toEqual(fullType.toObject(fullType.decode(bytes), options));
    expect(JSON.stringify(viaTrimmed)).toContain('automationSnapshot');
  });

  it('keep the request and response messages of each kept method whole', () => {
    for (const name of DEPLOY_METHODS) {
      const method = fullRoot.lookupService('google.cloud.deploy.v1.CloudDeploy').methods[name];
      method?.resolve();
      for (const type of [method?.resolvedRequestType, method?.resolvedResponseType]) {
        expect(trimmedRoot.lookupType(type?.fullName ?? '').toJSON()).toEqual(type?.toJSON());
      }
    }
  });

  it('leave the long-running results the client looks up as empty messages', () => {
    for (const name of ['DeliveryPipeline', 'Target', 'Release', 'Rollout', 'OperationMetadata']) {
      const type = trimmedRoot.lookupType(`google.cloud.deploy.v1.${name}`);
      expect(type.fieldsArray, name).toEqual([]);
    }
    expect(trimmedRoot.lookup('google.cloud.deploy.v1.JobRun')).toBeNull();
  });

  it('are a small part of the full protos', () => {
    expect(JSON.stringify(trimProtos(full, kept)).length).toBeLessThan(
      JSON.stringify(full).length / 4,
    );
  });

  it('refuse a method the service does not have', () => {
    expect(() =>
      trimProtos(full, { 'google.cloud.deploy.v1.CloudDeploy': ['CancelEverything'] }),
    ).toThrow('google.cloud.deploy.v1.CloudDeploy has no method CancelEverything');
  });

  it('keep no service and no message when nothing is kept', () => {
    expect(trimProtos(full, {})).toEqual({ nested: {} });
  });

  it('are asked for every protos file the bundle replaces, each with methods that exist', () => {
    for (const [path, methods] of Object.entries(TRIMMED_PROTOS)) {
      // By path: some of these packages export no such subpath.
      const json = require(
        join(__dirname, '..', '..', 'node_modules', path),
      ) as protobuf.INamespace;
      expect(() => trimProtos(json, methods), path).not.toThrow();
    }
  });
});
