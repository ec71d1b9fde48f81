/**
 * Trims a client library's protos JSON to the methods the function calls.
 *
 * A generated Google client converts its whole API's protos when it is constructed: for
 * Cloud Deploy that is hundreds of messages, most of the client's cold start and memory.
 * The function calls three Cloud Deploy methods and one Pub/Sub method, so the bundle gives
 * each client a protos JSON that keeps:
 *
 * - the kept methods of the kept services, and every message and enum their requests and
 *   responses reach, exactly as the library ships them;
 * - the response and metadata messages of the kept services' long-running methods, as
 *   empty placeholders: a generated client's constructor looks them up by name;
 * - nothing else: other services, other methods, other messages, enums and extensions.
 *
 * A trimmed message is checked against the original before it is written, so a library
 * update that changes what a kept method reaches changes the output, never breaks it.
 */
import protobuf from 'protobufjs';

/** Full service name to the names of the methods kept, as the proto spells them. */
export type KeptMethods = Readonly<Record<string, readonly string[]>>;

type Json = Record<string, unknown>;

function isMessage(object: protobuf.ReflectionObject): object is protobuf.Type {
  return object instanceof protobuf.Type;
}

/** Every message and enum that the kept methods' requests and responses reach. */
function reachable(root: protobuf.Root, kept: KeptMethods): Set<protobuf.ReflectionObject> {
  const seen = new Set<protobuf.ReflectionObject>();
  const visit = (object: protobuf.ReflectionObject | null): void => {
    if (object === null || seen.has(object)) return;
    seen.add(object);
    if (!isMessage(object)) return;
    for (const field of object.fieldsArray) visit(field.resolve().resolvedType);
  };
  for (const [serviceName, methodNames] of Object.entries(kept)) {
    const service = root.lookupService(serviceName);
    for (const methodName of methodNames) {
      const method = service.methods[methodName];
      if (method === undefined) throw new Error(`${serviceName} has no method ${methodName}`);
      method.resolve();
      visit(method.resolvedRequestType);
      visit(method.resolvedResponseType);
    }
  }
  return seen;
}

/** The messages named as results of the services' long-running methods, kept or not. */
function operationTypes(root: protobuf.Root, kept: KeptMethods): Set<protobuf.ReflectionObject> {
  const types = new Set<protobuf.ReflectionObject>();
  for (const serviceName of Object.keys(kept)) {
    const service = root.lookupService(serviceName);
    for (const method of service.methodsArray) {
      for (const option of ['response_type', 'metadata_type']) {
        const name = method.options?.[`(google.longrunning.operation_info).${option}`];
        const type = typeof name === 'string' ? service.parent?.lookup(name) : null;
        if (type instanceof protobuf.Type) types.add(type);
      }
    }
  }
  return types;
}

interface Selection {
  readonly keep: Set<protobuf.ReflectionObject>;
  readonly placeholders: Set<protobuf.ReflectionObject>;
  readonly kept: KeptMethods;
}

function trimNamespace(namespace: protobuf.NamespaceBase, selection: Selection): Json | undefined {
  const nested: Json = {};
  for (const child of namespace.nestedArray) {
    const trimmed = trimObject(child, selection);
    if (trimmed !== undefined) nested[child.name] = trimmed;
  }
  return Object.keys(nested).length === 0 ? undefined : nested;
}

function trimObject(object: protobuf.ReflectionObject, selection: Selection): Json | undefined {
  const { keep, placeholders, kept } = selection;
  if (object instanceof protobuf.Enum) return keep.has(object) ? { ...object.toJSON() } : undefined;
  if (object instanceof protobuf.Service) {
    const methodNames = kept[object.fullName.slice(1)];
    if (methodNames === undefined) return undefined;
    const methods: Json = {};
    for (const name of methodNames) methods[name] = object.methods[name]?.toJSON();
    return { ...object.toJSON(), methods };
  }
  if (isMessage(object)) {
    const nested = trimNamespace(object, selection);
    if (!keep.has(object) && !placeholders.has(object) && nested === undefined) return undefined;
    const json = keep.has(object) ? { ...object.toJSON() } : { fields: {} };
    delete json.nested;
    return nested === undefined ? json : { ...json, nested };
  }
  if (object instanceof protobuf.Namespace) {
    const nested = trimNamespace(object, selection);
    return nested === undefined ? undefined : { nested };
  }
  // Extension fields declared at namespace level: options the client never reads.
  return undefined;
}

/** Fails unless every reachable message resolves to the same definitions in both roots. */
function verify(trimmed: protobuf.Root, keep: Set<protobuf.ReflectionObject>): void {
  for (const object of keep) {
    const name = object.fullName;
    const copy = trimmed.lookup(name);
    if (copy === null) throw new Error(`trimmed protos lost ${name}`);
    const before = object;
    const strip = (json: object) => JSON.stringify({ ...json, nested: undefined });
    if (strip(before.toJSON()) !== strip(copy.toJSON())) {
      throw new Error(`trimmed protos changed ${name}`);
    }
    if (isMessage(before) && isMessage(copy)) {
      for (const field of before.fieldsArray) {
        const target = field.resolvedType?.fullName;
        const copied = copy.fields[field.name]?.resolve().resolvedType?.fullName;
        if (target !== copied) throw new Error(`${name}.${field.name} resolves to ${copied}`);
      }
    }
  }
}

/** The protos JSON a client needs to call only `kept`. */
export function trimProtos(json: protobuf.INamespace, kept: KeptMethods): protobuf.INamespace {
  const original = protobuf.Root.fromJSON(json);
  original.resolveAll();
  const keep = reachable(original, kept);
  const placeholders = operationTypes(original, kept);
  const nested = trimNamespace(original, { keep, placeholders, kept });
  const trimmed = { nested: nested ?? {} } as protobuf.INamespace;
  const check = protobuf.Root.fromJSON(trimmed);
  check.resolveAll();
  verify(check, keep);
  for (const placeholder of placeholders) {
    if (check.lookup(placeholder.fullName) === null)
      throw new Error(`lost ${placeholder.fullName}`);
  }
  for (const [serviceName, methodNames] of Object.entries(kept)) {
    const methods = Object.keys(check.lookupService(serviceName).methods);
    if (methods.join() !== [...methodNames].join()) {
      throw new Error(`trimmed ${serviceName} has methods ${methods.join(', ')}`);
    }
  }
  return trimmed;
}
