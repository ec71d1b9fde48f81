import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  loadTerraform,
  REPOSITORY_ROOT,
  ref,
  stringListAttribute,
  type TerraformConfig,
} from './terraform-config';
import { archiveIncludes, gcloudUploads, parseGcloudignore } from './upload-rules';

const rules = parseGcloudignore(join(REPOSITORY_ROOT, '.gcloudignore'));
let config: TerraformConfig;
let excludes: string[];

beforeAll(async () => {
  config = await loadTerraform();
  const archive = config.dataSources.find(
    (data) => data.type === 'archive_file' && data.name === 'source',
  );
  expect(archive?.body.excludes).toBe(ref('local.source_excludes'));
  excludes = stringListAttribute(config.locals, 'source_excludes');
});

function walk(directory: string): string[] {
  if (!existsSync(directory)) return [];
  return readdirSync(directory).flatMap((entry) => {
    const path = join(directory, entry);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

/** Files a deploy could see: tracked and untracked-but-not-ignored files, plus the src tree. */
function candidateFiles(): string[] {
  const listed = execFileSync(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    {
      cwd: REPOSITORY_ROOT,
      encoding: 'utf8',
    },
  )
    .split('\0')
    .filter((path) => path !== '' && existsSync(join(REPOSITORY_ROOT, path)));
  const source = walk(join(REPOSITORY_ROOT, 'src')).map((path) =>
    relative(REPOSITORY_ROOT, path).split('\\').join('/'),
  );
  // Present on developer machines but ignored by git; neither upload may carry them.
  const local = [
    '.git/HEAD',
    'node_modules/zod/package.json',
    'dist/src/index.js',
    'coverage/index.html',
    'terraform/.terraform/providers/registry.terraform.io/hashicorp/google/provider',
    'terraform/function-source.zip',
    'terraform/terraform.tfstate',
    'npm-debug.log',
  ];
  return [...new Set([...listed, ...source, ...local])].sort();
}

const NEVER_UPLOADED = [
  'test/',
  'terraform/',
  'node_modules/',
  '.git/',
  'dist/',
  'scripts/bench/',
  'docs/',
  'schema/',
  'coverage/',
];

describe('what a deploy uploads', () => {
  it('is the same set through .gcloudignore and through the archive excludes', () => {
    const disagreements = candidateFiles().filter(
      (path) => gcloudUploads(rules, path) !== archiveIncludes(excludes, path),
    );
    expect(disagreements).toEqual([]);
  });

  it('carries the build inputs: package.json, package-lock.json, tsconfig.json, the non-test src files and the build scripts', () => {
    const uploaded = candidateFiles().filter((path) => gcloudUploads(rules, path));
    for (const path of ['package.json', 'package-lock.json', 'tsconfig.json'])
      expect(uploaded).toContain(path);
    const sources = candidateFiles().filter(
      (path) =>
        (/^src\/.*\.ts$/.test(path) || /^scripts\/build\/.*\.ts$/.test(path)) &&
        !/\.test\.ts$/.test(path) &&
        !path.startsWith('src/emulator/'),
    );
    expect(sources).toContain('scripts/build/bundle.ts');
    expect(sources.length).toBeGreaterThan(0);
    for (const path of sources) expect(uploaded, path).toContain(path);
  });

  it('leaves out tests, infrastructure, dependencies, build output and repository data', () => {
    const uploaded = candidateFiles().filter((path) => gcloudUploads(rules, path));
    for (const path of uploaded) {
      expect(
        NEVER_UPLOADED.some((prefix) => path.startsWith(prefix)),
        path,
      ).toBe(false);
      expect(
        path === 'package.json' ||
          path === 'package-lock.json' ||
          path === 'tsconfig.json' ||
          path.startsWith('src/') ||
          path.startsWith('scripts/build/'),
        path,
      ).toBe(true);
    }
    for (const path of ['src/emulator/server.ts', 'scripts/demo.ts', 'scripts/bench/main.ts']) {
      expect(gcloudUploads(rules, path), path).toBe(false);
      expect(archiveIncludes(excludes, path), path).toBe(false);
    }
  });

  it('is self-contained: every relative import of an uploaded file resolves to an uploaded file', () => {
    const uploaded = new Set(candidateFiles().filter((path) => gcloudUploads(rules, path)));
    const missing: string[] = [];
    for (const path of uploaded) {
      if (!path.endsWith('.ts')) continue;
      const text = readFileSync(join(REPOSITORY_ROOT, path), 'utf8');
      const specifiers = [
        ...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)(['"])(\.{1,2}\/[^'"]+)\1/g),
      ].map((match) => match[2] ?? '');
      for (const specifier of specifiers) {
        const base = posix.normalize(posix.join(dirname(path), specifier)).replace(/\.js$/, '');
        const candidates = [`${base}.ts`, `${base}/index.ts`, base];
        const exists = candidates.some((candidate) => existsSync(join(REPOSITORY_ROOT, candidate)));
        // Imports of files not written yet are the build's concern, not the upload's.
        if (exists && !candidates.some((candidate) => uploaded.has(candidate)))
          missing.push(`${path} -> ${specifier}`);
      }
    }
    expect(missing).toEqual([]);
  });
});

function gcloudOnPath(): boolean {
  try {
    execFileSync('gcloud', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!gcloudOnPath())('gcloud itself', () => {
  it('lists for upload exactly what the .gcloudignore matcher lets through', () => {
    const listed = execFileSync('gcloud', ['meta', 'list-files-for-upload', '.'], {
      cwd: REPOSITORY_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .split(/\r?\n/)
      .filter((line) => line !== '')
      .sort();
    const onDisk = walk(REPOSITORY_ROOT)
      .map((path) => relative(REPOSITORY_ROOT, path).split('\\').join('/'))
      .filter((path) => !/^(node_modules|\.git)\//.test(path));
    const expected = onDisk.filter((path) => gcloudUploads(rules, path)).sort();
    expect(listed).toEqual(expected);
  }, 60_000);
});
