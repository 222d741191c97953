import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Workflow code must replay deterministically inside Temporal's sandbox: no Node built-ins and
 * no I/O libraries, in the workflow files or in anything they import at run time.
 */
const ALLOWED_PACKAGES = ['@temporalio/workflow', '@temporalio/common'];
const IMPORT = /^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+['"]([^'"]+)['"]/gm;

function runtimeImports(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  return [...source.matchAll(IMPORT)].filter((m) => !m[2]).map((m) => m[3]!);
}

function closure(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    const imports = runtimeImports(file);
    seen.set(file, imports);
    for (const spec of imports)
      if (spec.startsWith('.')) visit(path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')));
  };
  visit(entry);
  return seen;
}

describe('workflow code', () => {
  const files = closure(path.resolve('src/workflows/index.ts'));

  it('reaches only workflow, shared and Temporal workflow modules at run time', () => {
    for (const [file, imports] of files) {
      const rel = path.relative('src', file);
      expect(rel, `${rel} is outside workflows/ and shared/`).toMatch(/^(workflows|shared)\//);
      for (const spec of imports) {
        if (spec.startsWith('.')) continue;
        expect(ALLOWED_PACKAGES, `${rel} imports ${spec}`).toContain(spec);
      }
    }
    expect(files.size).toBeGreaterThan(3);
  });

  it('does not read the clock or randomness outside what the SDK patches', () => {
    for (const file of readdirSync('src/workflows')) {
      const source = readFileSync(path.join('src/workflows', file), 'utf8');
      expect(source, file).not.toMatch(/Math\.random|process\.|setTimeout\(|performance\.now|require\(/);
    }
  });
});
