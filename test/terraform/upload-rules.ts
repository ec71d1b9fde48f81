import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * .gcloudignore matching with .gitignore semantics: last matching rule wins, `!` re-includes,
 * a trailing `/` matches directories only, a pattern with an inner or leading `/` is anchored
 * at the root, and nothing below an ignored directory can be re-included.
 * `#!include:FILE` lines splice in another file's rules, as gcloud does.
 * @see https://cloud.google.com/sdk/gcloud/reference/topic/gcloudignore
 */
interface IgnoreRule {
  readonly negate: boolean;
  readonly directoryOnly: boolean;
  readonly regex: RegExp;
}

function escapeRegExp(character: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(character) ? `\\${character}` : character;
}

/** Translates one wildcard segment run (`*`, `?`, `[...]`) to a regular expression body. */
function wildcardsToRegExp(glob: string): string {
  let out = '';
  for (let index = 0; index < glob.length; index += 1) {
    const character = glob[index] ?? '';
    if (character === '*') out += '[^/]*';
    else if (character === '?') out += '[^/]';
    else if (character === '[') {
      const end = glob.indexOf(']', index + 1);
      if (end === -1) {
        out += '\\[';
        continue;
      }
      let body = glob.slice(index + 1, end);
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      out += `[${body.replace(/\\/g, '\\\\')}]`;
      index = end;
    } else if (character === '\\' && index + 1 < glob.length) {
      index += 1;
      out += escapeRegExp(glob[index] ?? '');
    } else out += escapeRegExp(character);
  }
  return out;
}

function gitignorePatternToRegExp(pattern: string): RegExp {
  const anchored = pattern.includes('/');
  const trimmed = pattern.replace(/^\//, '');
  const parts = trimmed.split('/');
  let body = '';
  parts.forEach((part, index) => {
    const last = index === parts.length - 1;
    if (part === '**') {
      body += last ? '.*' : '(?:[^/]+/)*';
    } else {
      body += wildcardsToRegExp(part) + (last ? '' : '/');
    }
  });
  return new RegExp(anchored ? `^${body}$` : `^(?:.*/)?${body}$`);
}

export function parseGcloudignore(
  file: string,
  seen: ReadonlySet<string> = new Set(),
): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const rawLine of readFileSync(file, 'utf8').split(/\r?\n/)) {
    const include = /^#!include:(.+)$/.exec(rawLine);
    if (include?.[1] !== undefined) {
      const target = join(dirname(file), include[1].trim());
      if (!seen.has(target) && existsSync(target)) {
        rules.push(...parseGcloudignore(target, new Set([...seen, file])));
      }
      continue;
    }
    let line = rawLine.replace(/(?<!\\)\s+$/, '');
    if (line === '' || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    if (negate) line = line.slice(1);
    else if (line.startsWith('\\!') || line.startsWith('\\#')) line = line.slice(1);
    const directoryOnly = line.endsWith('/');
    if (directoryOnly) line = line.replace(/\/+$/, '');
    if (line === '') continue;
    rules.push({ negate, directoryOnly, regex: gitignorePatternToRegExp(line) });
  }
  return rules;
}

function matchesRules(rules: readonly IgnoreRule[], path: string, isDirectory: boolean): boolean {
  let ignored = false;
  for (const rule of rules) {
    if (rule.directoryOnly && !isDirectory) continue;
    if (rule.regex.test(path)) ignored = !rule.negate;
  }
  return ignored;
}

/** Whether gcloud would upload the file at `path` (relative, `/`-separated). */
export function gcloudUploads(rules: readonly IgnoreRule[], path: string): boolean {
  const segments = path.split('/');
  for (let depth = 1; depth < segments.length; depth += 1) {
    if (matchesRules(rules, segments.slice(0, depth).join('/'), true)) return false;
  }
  return !matchesRules(rules, path, false);
}

/**
 * archive_file `excludes` matching (doublestar globs, hashicorp/terraform-provider-archive
 * >= 2.5): a file is left out when it, or a directory above it, matches a pattern.
 */
function doublestarSegmentToRegExp(segment: string): string {
  return segment
    .split(/(\{[^}]*\})/)
    .map((piece) =>
      piece.startsWith('{') && piece.endsWith('}')
        ? `(?:${piece.slice(1, -1).split(',').map(wildcardsToRegExp).join('|')})`
        : wildcardsToRegExp(piece),
    )
    .join('');
}

function doublestarToRegExp(pattern: string): RegExp {
  const parts = pattern.split('/');
  const body = parts
    .map((part, index) => {
      const last = index === parts.length - 1;
      if (part === '**') return last ? '.*' : '(?:[^/]+/)*';
      return doublestarSegmentToRegExp(part) + (last ? '' : '/');
    })
    .join('');
  return new RegExp(`^${body}$`);
}

export function archiveIncludes(excludes: readonly string[], path: string): boolean {
  const patterns = excludes.map(doublestarToRegExp);
  const segments = path.split('/');
  for (let depth = 1; depth <= segments.length; depth += 1) {
    const candidate = segments.slice(0, depth).join('/');
    if (patterns.some((pattern) => pattern.test(candidate))) return false;
  }
  return true;
}
