import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { envSchema } from '../../src/config/env.js';

const root = path.resolve(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');
const stripCode = (markdown: string) => markdown.replace(/^\s*```[\s\S]*?^\s*```/gm, '');

interface Row {
  names: string[];
  defaults: string[];
}

/** The rows of the configuration page's tables: the variables in the first cell, the defaults in the second. */
export function settingRows(page: string): Row[] {
  return stripCode(page)
    .split('\n')
    .flatMap((line) => {
      const cells = /^\|([^|]*)\|([^|]*)\|/.exec(line);
      const names = [...(cells?.[1]?.matchAll(/`([A-Z][A-Z0-9_]+)`/g) ?? [])].map((m) => m[1]!);
      return names.length ? [{ names, defaults: cells![2]!.split(',').map((d) => d.trim()) }] : [];
    });
}

const documentedSettings = (page: string) => new Set(settingRows(page).flatMap((row) => row.names));

const sourceFiles = (dir: string): string[] =>
  readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const file = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sourceFiles(file);
    return entry.name.endsWith('.ts') ? [file] : [];
  });

/** The operating system's own variables, passed through to child processes rather than configuring the service. */
const systemVariables = new Set(['PATH']);

/** Settings read from the environment outside the schema (as `env.NAME` or `process.env.NAME`), found in the source text. */
const settingsReadOutsideSchema = () => {
  const names = new Set<string>();
  for (const file of sourceFiles('src').filter((f) => f !== 'src/config/env.ts')) {
    for (const m of read(file).matchAll(/\benv\??\.([A-Z][A-Z0-9_]+)\b|\benv\[['"]([A-Z][A-Z0-9_]+)['"]\]/g)) {
      names.add((m[1] ?? m[2])!);
    }
  }
  return [...names].filter((name) => !systemVariables.has(name) && !(name in envSchema.shape));
};

/** How the page writes a default: `unset`, `empty` for an empty list, else the value in backticks. */
const documentedDefault = (value: unknown) => {
  if (value === undefined) return 'unset';
  if (Array.isArray(value)) return value.length ? `\`${value.join(',')}\`` : 'empty';
  return `\`${value as string | number | boolean}\``;
};

describe('docs/configuration.md', () => {
  const page = read('docs/configuration.md');
  const documented = documentedSettings(page);
  const schemaSettings = Object.keys(envSchema.shape);

  it('finds the settings env.ts reads and those read elsewhere', () => {
    expect(schemaSettings.length).toBeGreaterThan(50);
    expect(settingsReadOutsideSchema()).toContain('OTEL_EXPORTER_OTLP_ENDPOINT');
  });

  it('documents every setting env.ts reads', () => {
    expect(schemaSettings.filter((name) => !documented.has(name))).toEqual([]);
  });

  it('documents every setting read outside env.ts', () => {
    expect(settingsReadOutsideSchema().filter((name) => !documented.has(name))).toEqual([]);
  });

  it('documents no setting the service does not read', () => {
    const known = new Set([...schemaSettings, ...settingsReadOutsideSchema()]);
    expect([...documented].filter((name) => !known.has(name))).toEqual([]);
  });

  it("gives each schema setting the schema's default", () => {
    const wrong = settingRows(page).flatMap(({ names, defaults }) =>
      names.flatMap((name, i) => {
        const schema = envSchema.shape[name as keyof typeof envSchema.shape];
        if (!schema) return [];
        const expected = documentedDefault(schema.parse(undefined));
        const written = (defaults.length === names.length ? defaults[i] : defaults[0])!;
        return written === expected || written.startsWith(`${expected} (`)
          ? []
          : [`${name}: ${written}, not ${expected}`];
      }),
    );
    expect(wrong).toEqual([]);
  });

  it('misses a setting whose row is removed (the check can fail)', () => {
    const withoutPort = page.replace(/^\| `PORT` .*$/m, '');
    expect(documentedSettings(withoutPort).has('PORT')).toBe(false);
    expect(documentedSettings(withoutPort).has('HOST')).toBe(true);
  });
});

const pages = [
  'README.md',
  ...readdirSync(path.join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
const anchorsOf = (markdown: string) =>
  new Set(
    stripCode(markdown)
      .split('\n')
      .filter((l) => /^#+ /.test(l))
      .map((l) =>
        l
          .replace(/^#+ /, '')
          .trim()
          .toLowerCase()
          .replace(/[^\w\- ]/g, '')
          .replace(/ /g, '-'),
      ),
  );

describe('links between the docs', () => {
  it.each(pages)('every relative link in %s resolves, anchors included', (page) => {
    const broken: string[] = [];
    for (const [, target] of stripCode(read(page)).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue;
      const [file, anchor] = target!.split('#');
      const resolved = file ? path.join(path.dirname(page), file) : page;
      if (!existsSync(path.join(root, resolved))) broken.push(target!);
      else if (anchor && resolved.endsWith('.md') && !anchorsOf(read(resolved)).has(anchor)) broken.push(target!);
    }
    expect(broken).toEqual([]);
  });
});
