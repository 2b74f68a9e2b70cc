// Pass 3: the sandbox's memory becomes the import `sledge.memory` with declared limits, so the
// loader can hand each instance a pooled memory. A defined memory is turned into that import, an
// imported one is renamed; the maximum is the module's own if smaller than the cap, else the cap.
// When yield points are wanted, the preemption flag page `sledge.preempt` (1 page, shared) is
// imported too. Done on the bytes: Binaryen's JS API cannot set a memory's limits.

import { SledgeError } from '../../contract/errors.ts';
import { MEMORY_IMPORT, PREEMPT_MEMORY_IMPORT } from '../../contract/host-abi.ts';
import { encodeExport, encodeMemoryImport, encodeVectorSection, rewriteSections, SEC, type ExportEntry, type ModuleInfo } from '../wasm-binary.ts';

export const MAX_PAGES_CAP = 65536;
export const DEFAULT_MAX_PAGES = 16384; // 1 GiB

export interface MemoryImportOptions {
  maxMemoryPages: number;
  /** Also import sledge.preempt (memory index 1) for the yield pass. */
  preempt: boolean;
  where: string;
}

export interface MemoryImportResult {
  bytes: Uint8Array;
  initialPages: number;
  maximumPages: number;
  /**
   * Temporary export names that point at the memories, so the compiler can learn Binaryen's
   * internal names for them; removed again right after reading.
   */
  probe: { memory: string; preempt?: string };
}

export function importMemory(bytes: Uint8Array, info: ModuleInfo, opts: MemoryImportOptions): MemoryImportResult {
  const { where } = opts;
  const cap = opts.maxMemoryPages;
  const importedAt = info.imports.findIndex((i) => i.kind === 'memory');
  const own = importedAt >= 0 ? info.imports[importedAt]!.limits! : info.memories[0];

  // No memory at all: WASI commands always have one; give the host a page to write into and
  // keep every bundle's shape the same (the guest, having no memory instructions, cannot grow it).
  const initialPages = own ? own.min : 1;
  if (initialPages > cap) {
    throw new SledgeError('MEMORY_TOO_LARGE', `${where}: the module needs ${initialPages} pages (${mib(initialPages)}) of memory at start, more than the ${cap}-page (${mib(cap)}) limit`, {
      hint: 'raise the memory limit, or reduce the initial memory (e.g. -Wl,--initial-memory=…, a smaller stack or static data)',
    });
  }
  const maximumPages = own ? (own.max !== undefined && own.max < cap ? own.max : cap) : 1;

  const memImport = encodeMemoryImport(MEMORY_IMPORT.module, MEMORY_IMPORT.name, { min: initialPages, max: maximumPages });
  const imports: Uint8Array[] = info.imports.map((i, k) => (k === importedAt ? memImport : i.raw));
  if (importedAt < 0) imports.push(memImport);
  if (opts.preempt) imports.push(encodeMemoryImport(PREEMPT_MEMORY_IMPORT.module, PREEMPT_MEMORY_IMPORT.name, { min: 1, max: 1, shared: true }));

  const exports: ExportEntry[] = [...info.exports];
  const taken = new Set(exports.map((e) => e.name));
  // WASI's convention: the memory is exported as "memory". A module that already uses that name
  // for something else keeps it (the runtime holds the memory it passed in anyway).
  if (!taken.has('memory')) exports.push({ name: 'memory', kind: 'memory', index: 0 });
  const fresh = (base: string): string => {
    let n = base;
    for (let i = 1; taken.has(n); i++) n = `${base}${i}`;
    taken.add(n);
    return n;
  };
  const probe: MemoryImportResult['probe'] = { memory: fresh('sledgec$memory') };
  exports.push({ name: probe.memory, kind: 'memory', index: 0 });
  if (opts.preempt) {
    probe.preempt = fresh('sledgec$preempt');
    exports.push({ name: probe.preempt, kind: 'memory', index: 1 });
  }

  const replace = new Map<number, Uint8Array | null>([
    [SEC.import, encodeVectorSection(SEC.import, imports)],
    [SEC.export, encodeVectorSection(SEC.export, exports.map(encodeExport))],
  ]);
  if (info.sections.some((s) => s.id === SEC.memory)) replace.set(SEC.memory, null);
  return { bytes: rewriteSections(bytes, info.sections, replace), initialPages, maximumPages, probe };
}

function mib(pages: number): string {
  return `${(pages * 65536) / (1 << 20)} MiB`;
}
