// Pass 2: every import must be something the runtime provides (contract/host-abi.ts), with the
// same signature. All offenders are reported at once, so one build shows the whole list.

import { SledgeError } from '../../contract/errors.ts';
import { isHostFunction, SLEDGE_FUNCTIONS, SLEDGE_MODULE, WASI_FUNCTIONS, WASI_MODULE } from '../../contract/host-abi.ts';
import { signatureText, type ImportEntry, type ModuleInfo } from '../wasm-binary.ts';

function sameSig(a: { params: readonly string[]; results: readonly string[] }, b: { params: readonly string[]; results: readonly string[] }): boolean {
  return a.params.length === b.params.length && a.results.length === b.results.length && a.params.every((t, i) => t === b.params[i]) && a.results.every((t, i) => t === b.results[i]);
}

function describe(i: ImportEntry, info: ModuleInfo): string {
  const what = `${i.module}.${i.name}`;
  switch (i.kind) {
    case 'func': {
      const sig = info.types[i.typeIndex!];
      const host = isHostFunction(i.module, i.name);
      const mine = `${what}: func ${signatureText(sig)}`;
      return host ? `${mine} — the runtime's ${what} is ${signatureText(host)}` : mine;
    }
    case 'global':
      return `${what}: global ${i.mutable ? '(mut ' + i.valueType + ')' : i.valueType} — the runtime provides no globals`;
    case 'table':
      return `${what}: table of ${i.valueType} — the runtime provides no tables`;
    case 'memory':
      return `${what}: memory — only one memory is allowed`;
    case 'tag':
      return `${what}: tag — the runtime provides no exception tags`;
  }
}

export function checkAbi(info: ModuleInfo, where: string): void {
  const unknown: string[] = [];
  let memorySeen = false;
  for (const i of info.imports) {
    if (i.kind === 'memory' && !memorySeen) {
      // The module's one memory: renamed to sledge.memory by the memory-import pass.
      memorySeen = true;
      continue;
    }
    if (i.kind === 'func') {
      const host = isHostFunction(i.module, i.name);
      const sig = info.types[i.typeIndex!];
      if (host && sig && sameSig(sig, host)) continue;
    }
    unknown.push(describe(i, info));
  }
  if (unknown.length) {
    throw new SledgeError('UNKNOWN_IMPORT', `${where}: the module imports ${unknown.length === 1 ? 'something' : unknown.length + ' things'} the sledge runtime does not provide`, {
      details: unknown,
      hint:
        `the runtime offers ${WASI_MODULE} functions (${Object.keys(WASI_FUNCTIONS).join(', ')}) and ${SLEDGE_MODULE}.{${Object.keys(SLEDGE_FUNCTIONS).join(', ')}}; ` +
        'define the missing functions in your C code or stop using them (link with -Wl,--no-undefined to catch them early)',
    });
  }
}
