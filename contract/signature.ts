// Ed25519 signatures over a bundle: the signature section signs every byte of the module except
// itself (the manifest included). The section also carries the public key, so a bundle can be
// checked for self-consistency without a key and for origin with one.

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { SledgeError } from './errors.ts';

export interface SignatureRecord { alg: 'ed25519'; keyId: string; publicKey: string; signature: string }

export function keyId(pub: KeyObject): string {
  return createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

export function generateKeys(): { privatePem: string; publicPem: string; keyId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    keyId: keyId(publicKey),
  };
}

export function parsePrivateKey(pem: string, where: string): KeyObject {
  try {
    const k = createPrivateKey(pem);
    if (k.asymmetricKeyType === 'ed25519') return k;
  } catch { /* reported below */ }
  throw new SledgeError('KEY_INVALID', `${where}: not an Ed25519 private key in PEM form`, { hint: 'create one with `sledgec keygen`' });
}

export function parsePublicKey(pem: string, where: string): KeyObject {
  try {
    const k = createPublicKey(pem);
    if (k.asymmetricKeyType === 'ed25519') return k;
  } catch { /* reported below */ }
  throw new SledgeError('KEY_INVALID', `${where}: not an Ed25519 public key in PEM form`, { hint: 'use the .pub file written by `sledgec keygen`' });
}

export function signBytes(bytes: Uint8Array, priv: KeyObject): SignatureRecord {
  const pub = createPublicKey(priv);
  return {
    alg: 'ed25519',
    keyId: keyId(pub),
    publicKey: (pub.export({ type: 'spki', format: 'der' }) as Buffer).toString('base64'),
    signature: sign(null, bytes, priv).toString('base64'),
  };
}

/** Decodes a signature section; returns the signer's key when the signature over `bytes` holds. */
export function checkSignature(record: Uint8Array, bytes: Uint8Array, where: string): { keyId: string; key: KeyObject } {
  let rec: SignatureRecord;
  let key: KeyObject;
  try {
    rec = JSON.parse(new TextDecoder().decode(record)) as SignatureRecord;
    key = createPublicKey({ key: Buffer.from(rec.publicKey, 'base64'), format: 'der', type: 'spki' });
  } catch {
    throw new SledgeError('BUNDLE_SIGNATURE', `${where}: the signature section is corrupt`, { hint: 'rebuild and sign the bundle again' });
  }
  if (rec.alg !== 'ed25519' || !verify(null, bytes, key, Buffer.from(rec.signature, 'base64'))) {
    throw new SledgeError('BUNDLE_TAMPERED', `${where}: the signature does not match the bundle's contents`, {
      hint: 'the bundle was modified after it was signed; rebuild it from source and sign it again',
    });
  }
  return { keyId: keyId(key), key };
}

async function readKeyFile(path: string, what: string): Promise<string> {
  return readFile(path, 'utf8').catch(() => {
    throw new SledgeError('KEY_UNREADABLE', `${path}: cannot read the ${what}`, { hint: 'key pairs are written by `sledgec keygen`' });
  });
}

export async function loadPublicKey(path: string): Promise<KeyObject> {
  return parsePublicKey(await readKeyFile(path, 'public key'), path);
}

export async function loadPrivateKey(path: string): Promise<KeyObject> {
  return parsePrivateKey(await readKeyFile(path, 'signing key'), path);
}
