import { writeFile } from 'node:fs/promises';
import type { Row } from './context.js';

const COLUMNS = ['id', 'what', 'measured', 'floor', 'ratio', 'goal', 'met'] as const;

const cell = (row: Row, column: (typeof COLUMNS)[number]): string =>
  column === 'met' ? (row.met === undefined ? '—' : row.met ? 'met' : 'MISSED') : row[column];

/** The rows as one Markdown table (readable in a terminal too). */
export function formatTable(rows: Row[]): string {
  const lines = [
    COLUMNS.join(' | '),
    COLUMNS.map(() => '---').join(' | '),
    ...rows.map((r) => COLUMNS.map((c) => cell(r, c)).join(' | ')),
  ];
  return lines.map((l) => `| ${l} |`).join('\n');
}

export async function writeJson(file: string, rows: Row[], meta: Record<string, unknown>): Promise<void> {
  await writeFile(file, `${JSON.stringify({ ...meta, rows }, null, 2)}\n`);
}

/** `measured / floor` as a factor, e.g. `1.23×`. */
export const factor = (measured: number, floor: number): string => `${(measured / floor).toFixed(2)}×`;
