import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from '@cdktf/hcl2json';

export const REPOSITORY_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const TERRAFORM_DIRECTORY = join(REPOSITORY_ROOT, 'terraform');

/** One HCL block body as @cdktf/hcl2json renders it: nested blocks become arrays. */
export type Body = Record<string, unknown>;

export interface Block {
  readonly type: string;
  readonly name: string;
  readonly body: Body;
  readonly file: string;
}

export interface TerraformConfig {
  readonly files: readonly { readonly name: string; readonly text: string }[];
  readonly resources: readonly Block[];
  readonly dataSources: readonly Block[];
  readonly variables: readonly Block[];
  readonly outputs: readonly Block[];
  readonly locals: Body;
}

function isBody(value: unknown): value is Body {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Blocks of `kind` ("resource", "data") keyed type -> name -> [body]. */
function typedBlocks(parsed: Body, kind: string, file: string): Block[] {
  const byType = parsed[kind];
  if (!isBody(byType)) return [];
  return Object.entries(byType).flatMap(([type, byName]) =>
    isBody(byName)
      ? Object.entries(byName).flatMap(([name, bodies]) =>
          (Array.isArray(bodies) ? bodies : [])
            .filter(isBody)
            .map((body) => ({ type, name, body, file })),
        )
      : [],
  );
}

/** Blocks of `kind` ("variable", "output") keyed name -> [body]. */
function namedBlocks(parsed: Body, kind: string, file: string): Block[] {
  const byName = parsed[kind];
  if (!isBody(byName)) return [];
  return Object.entries(byName).flatMap(([name, bodies]) =>
    (Array.isArray(bodies) ? bodies : [])
      .filter(isBody)
      .map((body) => ({ type: kind, name, body, file })),
  );
}

/** Parses every .tf file of the root module. */
export async function loadTerraform(
  directory: string = TERRAFORM_DIRECTORY,
): Promise<TerraformConfig> {
  const names = readdirSync(directory)
    .filter((name) => name.endsWith('.tf'))
    .sort();
  const files = names.map((name) => ({ name, text: readFileSync(join(directory, name), 'utf8') }));
  const parsed = await Promise.all(
    files.map(async (file) => ({
      file: file.name,
      json: (await parse(file.name, file.text)) as Body,
    })),
  );
  const locals: Body = {};
  for (const { json } of parsed) {
    const blocks = json.locals;
    if (Array.isArray(blocks))
      for (const block of blocks) if (isBody(block)) Object.assign(locals, block);
  }
  return {
    files,
    resources: parsed.flatMap(({ file, json }) => typedBlocks(json, 'resource', file)),
    dataSources: parsed.flatMap(({ file, json }) => typedBlocks(json, 'data', file)),
    variables: parsed.flatMap(({ file, json }) => namedBlocks(json, 'variable', file)),
    outputs: parsed.flatMap(({ file, json }) => namedBlocks(json, 'output', file)),
    locals,
  };
}

export function resourcesOfType(config: TerraformConfig, type: string): Block[] {
  return config.resources.filter((resource) => resource.type === type);
}

export function resource(config: TerraformConfig, type: string, name: string): Block {
  const found = config.resources.find(
    (candidate) => candidate.type === type && candidate.name === name,
  );
  if (found === undefined) throw new Error(`terraform/ has no resource ${type}.${name}`);
  return found;
}

/** The single nested block `key` of a body (HCL blocks parse to one-element arrays). */
export function nested(body: Body, key: string): Body {
  const value = body[key];
  const first = Array.isArray(value) ? value[0] : undefined;
  if (!isBody(first)) throw new Error(`block has no nested ${key} block`);
  return first;
}

export function nestedAll(body: Body, key: string): Body[] {
  const value = body[key];
  return Array.isArray(value) ? value.filter(isBody) : [];
}

export function stringAttribute(body: Body, key: string): string {
  const value = body[key];
  if (typeof value !== 'string')
    throw new Error(`attribute ${key} is not a string: ${JSON.stringify(value)}`);
  return value;
}

export function objectAttribute(body: Body, key: string): Body {
  const value = body[key];
  if (!isBody(value))
    throw new Error(`attribute ${key} is not an object: ${JSON.stringify(value)}`);
  return value;
}

export function stringListAttribute(body: Body, key: string): string[] {
  const value = body[key];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new Error(`attribute ${key} is not a list of strings: ${JSON.stringify(value)}`);
  }
  return value;
}

/** How hcl2json renders a bare reference or expression: `${expression}`. */
export function ref(expression: string): string {
  return `\${${expression}}`;
}
