// Small statistics and table helpers shared by the benchmarks.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

export function sortedCopy(xs: number[]): Float64Array {
  return Float64Array.from(xs).sort();
}

export function geomean(xs: number[]): number {
  return Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);
}

/** A markdown table. */
export function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n') + '\n';
}

/** Prints a result and keeps a copy in bench/results/ (git-ignored; the README has the summary). */
export async function report(name: string, text: string): Promise<void> {
  process.stdout.write(text);
  const dir = new URL('../results/', import.meta.url).pathname;
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${name}.md`), text);
}
