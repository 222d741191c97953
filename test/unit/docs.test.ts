import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { envSchema } from '../../src/config/env.js';

const root = path.resolve(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

/** Variables named in the first column of the configuration page's tables. */
export function documentedSettings(page: string): Set<string> {
  const names = new Set<string>();
  for (const line of page.split('\n')) {
    const firstCell = /^\|([^|]*)\|/.exec(line)?.[1];
    for (const m of firstCell?.matchAll(/`([A-Z][A-Z0-9_]+)`/g) ?? []) names.add(m[1]!);
  }
  return names;
}

/** The OTEL_* variables the tracing module itself reads (the OpenTelemetry SDK reads the rest). */
const tracingSettings = () => new Set([...read('src/observability/tracing.ts').matchAll(/env\.(OTEL_[A-Z_]+)/g)].map((m) => m[1]!));

describe('docs/configuration.md', () => {
  const documented = documentedSettings(read('docs/configuration.md'));

  it('documents every setting env.ts reads', () => {
    const missing = Object.keys(envSchema.shape).filter((name) => !documented.has(name));
    expect(missing).toEqual([]);
  });

  it('documents no setting the service does not read', () => {
    const read = new Set([...Object.keys(envSchema.shape), ...tracingSettings()]);
    expect([...documented].filter((name) => !read.has(name))).toEqual([]);
  });

  it('finds a setting missing from a page (the check can fail)', () => {
    const page = read('docs/configuration.md').replace(/^\| `PORT` .*$/m, '');
    expect(documentedSettings(page).has('PORT')).toBe(false);
    expect(documentedSettings(page).has('HOST')).toBe(true);
  });
});

const pages = ['README.md', ...readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
const anchorsOf = (markdown: string) =>
  new Set(
    markdown
      .replace(/^```[\s\S]*?^```/gm, '')
      .split('\n')
      .filter((l) => /^#+ /.test(l))
      .map((l) => l.replace(/^#+ /, '').trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-')),
  );

describe('links between the docs', () => {
  it.each(pages)('every relative link in %s resolves, anchors included', (page) => {
    const text = read(page).replace(/^```[\s\S]*?^```/gm, '');
    const broken: string[] = [];
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue;
      const [file, anchor] = target!.split('#');
      const resolved = file ? path.join(path.dirname(page), file) : page;
      if (!existsSync(path.join(root, resolved))) broken.push(target!);
      else if (anchor && resolved.endsWith('.md') && !anchorsOf(read(resolved)).has(anchor)) broken.push(target!);
    }
    expect(broken).toEqual([]);
  });
});
