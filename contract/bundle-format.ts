// The bundle's layout: a wasm module followed by a `sledge.manifest` custom section and, when
// signed, a final `sledge.signature` section. The writer (compiler) and reader (loader) share it.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SledgeError } from './errors.ts';
import { decodeManifest, MANIFEST_SECTION, SIGNATURE_SECTION, type Manifest } from './manifest.ts';
import { customSection, readSections, stripCustomSections } from './wasm-sections.ts';
import { checkSignature } from './signature.ts';
import type { KeyObject } from 'node:crypto';

const isSledgeSection = (name: string) => name.startsWith('sledge.');

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** sha256 of the module without any sledge.* section: what the manifest's moduleSha256 records. */
export function moduleHash(bytes: Uint8Array, where: string): string {
  return sha256(stripCustomSections(bytes, readSections(bytes, where), isSledgeSection));
}

export interface ParsedBundle {
  manifest: Manifest;
  /** The whole bundle: a valid module, compiled as is (custom sections are ignored by engines). */
  bytes: Uint8Array;
  signer?: { keyId: string; key: KeyObject };
}

/** True when the bundle carries a signature section (checked or not). */
export function isSigned(bytes: Uint8Array, where: string): boolean {
  return customSection(bytes, readSections(bytes, where), SIGNATURE_SECTION) !== undefined;
}

/**
 * Reads a bundle's manifest and checks integrity (hash) and, when present, the signature's
 * consistency (skipped with `integrity: false`, for inspecting a damaged bundle). Policy (trusted keys, unsafe bundles, features) is the loader's business.
 */
export function parseBundle(bytes: Uint8Array, where: string, opts: { integrity: boolean } = { integrity: true }): ParsedBundle {
  const sections = readSections(bytes, where);
  const raw = customSection(bytes, sections, MANIFEST_SECTION);
  if (!raw) {
    throw new SledgeError('NOT_A_BUNDLE', `${where}: a WebAssembly module but not a Sledge bundle (no manifest)`, {
      hint: `build it into a bundle first: sledgec build ${where}`,
    });
  }
  const manifest = decodeManifest(raw, where);
  if (!opts.integrity) return { manifest, bytes };
  const sigIndex = sections.findIndex((s) => s.id === 0 && s.name === SIGNATURE_SECTION);
  let signer: ParsedBundle['signer'];
  if (sigIndex >= 0) {
    const sig = sections[sigIndex]!;
    if (sigIndex !== sections.length - 1) {
      throw new SledgeError('BUNDLE_TAMPERED', `${where}: data follows the signature section`, { hint: 'rebuild and sign the bundle again' });
    }
    signer = checkSignature(bytes.subarray(sig.payloadStart, sig.end), bytes.subarray(0, sig.start), where);
  }
  if (sha256(stripCustomSections(bytes, sections, isSledgeSection)) !== manifest.moduleSha256) {
    throw new SledgeError('BUNDLE_TAMPERED', `${where}: the module does not match the hash in its manifest`, {
      hint: 'the bundle is corrupt or was modified after it was built; rebuild it with sledgec build',
    });
  }
  return signer ? { manifest, bytes, signer } : { manifest, bytes };
}

// Synchronous: bundles are read at start-up, where the first async read would also pay for
// starting libuv's thread pool (~5 ms).
export async function readBundleFile(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SledgeError('BUNDLE_UNREADABLE', `${path}: cannot read the bundle (${code ?? 'error'})`, {
      hint: code === 'ENOENT' ? 'check the path, or build it with `sledgec build fn.c`' : 'check the file permissions',
    });
  }
}
