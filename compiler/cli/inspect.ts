// sledgec inspect: the manifest, as text or JSON.

import { isSigned, parseBundle, readBundleFile } from '../../contract/bundle-format.ts';
import { parseOptions, usage } from '../../contract/cli.ts';
import type { Manifest } from '../../contract/manifest.ts';

export async function inspectVerb(args: string[]): Promise<number> {
  const { options, positionals } = parseOptions('sledgec', args, { json: {} });
  if (positionals.length !== 1) throw usage('inspect takes one bundle', 'sledgec');
  const path = positionals[0]!;
  const bytes = await readBundleFile(path);
  const { manifest } = parseBundle(bytes, path, { integrity: false });
  if (options.json === true) process.stdout.write(JSON.stringify(manifest, null, 2) + '\n');
  else process.stdout.write(formatManifest(manifest, bytes.length, isSigned(bytes, path)));
  return 0;
}

export function formatManifest(m: Manifest, size: number, signed: boolean): string {
  const t = m.toolchain;
  const rows: [string, string][] = [
    ['source', `${m.source.name} (${m.source.kind}, sha256 ${m.source.sha256.slice(0, 16)})`],
    ['size', `${size} bytes`],
    ['format', `${m.format} (host ABI ${m.abi})`],
    ['toolchain', `sledgec ${t.sledgec}, ${t.frontend}, binaryen ${t.binaryen}, -O${t.optLevel}${t.simd ? ', simd' : ''}${t.stackSize ? `, stack ${t.stackSize} bytes` : ''}`],
    ['bounds', m.bounds + (m.unsafe ? ' (UNSAFE: memory accesses unchecked)' : '')],
    ['yield points', m.yieldPoints.enabled ? String(m.yieldPoints.count) : 'none'],
    ...(m.writes ? [['writes', `only [${m.writes.low}, ${m.writes.high}) (constant addresses): a reset zeroes just that`] as [string, string]] : []),
    ...(m.runBound !== undefined ? [['run bound', `at most ${m.runBound} expressions per run (no loop, no recursion)`] as [string, string]] : []),
    ['memory', `${m.memory.initialPages} pages initial, ${m.memory.maximumPages} maximum, imported as ${m.memory.import.module}.${m.memory.import.name}`],
    ['entry', m.entry],
    ['exports', m.exports.join(', ')],
    ['imports', m.imports.join(', ') || '(none)'],
    ['features', m.features.join(', ')],
    ['module sha256', m.moduleSha256],
    ['signed', signed ? 'yes (check it with sledgec verify)' : 'no'],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n';
}
