// Writes a bundle: the compiled module, its manifest section, and (when a key is given) a final
// signature section over everything before it.

import type { KeyObject } from 'node:crypto';
import { sha256 } from '../contract/bundle-format.ts';
import { encodeManifest, MANIFEST_SECTION, SIGNATURE_SECTION, type Manifest } from '../contract/manifest.ts';
import { signBytes } from '../contract/signature.ts';
import { concat, encodeCustomSection, readSections, stripCustomSections } from '../contract/wasm-sections.ts';

export function writeBundle(wasm: Uint8Array, manifest: Omit<Manifest, 'moduleSha256'>, signingKey?: KeyObject): { bytes: Uint8Array; manifest: Manifest } {
  // Any sledge.* section already present (rebuilding a bundle) is replaced.
  const module = stripCustomSections(wasm, readSections(wasm, 'module'), (n) => n.startsWith('sledge.'));
  const full: Manifest = { ...manifest, moduleSha256: sha256(module) };
  const unsigned = concat([module, encodeCustomSection(MANIFEST_SECTION, encodeManifest(full))]);
  if (!signingKey) return { bytes: unsigned, manifest: full };
  const sig = new TextEncoder().encode(JSON.stringify(signBytes(unsigned, signingKey)));
  return { bytes: concat([unsigned, encodeCustomSection(SIGNATURE_SECTION, sig)]), manifest: full };
}
