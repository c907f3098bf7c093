/** Local secret keys: generate, derive the pubkey, sign templates (BIP-340 Schnorr via @noble). */
import { schnorr } from '@noble/curves/secp256k1.js'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { getEventHash, validateEventShape } from './event.ts'
import type { EventTemplate, NostrEvent } from './types.ts'

/** A secret key that is not 32 bytes in 1..n-1. The message never contains the key. */
export class SecretKeyError extends Error {
  override name = 'SecretKeyError'
}

/** A template that would make an event every relay refuses (e.g. kind 70000). */
export class EventTemplateError extends Error {
  override name = 'EventTemplateError'
}

export function generateSecretKey(): Uint8Array {
  return schnorr.utils.randomSecretKey()
}

/** The x-only public key, lowercase hex. Throws SecretKeyError for an invalid key. */
export function getPublicKey(sk: Uint8Array): string {
  try {
    return bytesToHex(schnorr.getPublicKey(sk))
  } catch {
    // noble's own message may quote the offending value; ours must not, so no `cause` either.
    throw new SecretKeyError('invalid secret key: expected 32 bytes encoding a scalar in 1..n-1')
  }
}

const PLACEHOLDER_SIG = '0'.repeat(128)

function sign(template: EventTemplate, sk: Uint8Array, pubkey: string): NostrEvent {
  const unsigned = {
    kind: template.kind,
    tags: template.tags.map((t) => [...t]),
    content: template.content,
    created_at: template.created_at,
    pubkey,
  }
  const id = getEventHash(unsigned)
  // Refuse before signing: a signature over an event no relay accepts is wasted work at best.
  const reason = validateEventShape({ ...unsigned, id, sig: PLACEHOLDER_SIG })
  if (reason) throw new EventTemplateError(`cannot sign this template: ${reason}`)
  let sig: string
  try {
    sig = bytesToHex(schnorr.sign(hexToBytes(id), sk))
  } catch {
    throw new SecretKeyError('signing failed: invalid secret key')
  }
  return { ...unsigned, id, sig }
}

/** Signs a copy of the template (tags are copied too), returning a complete event. */
export function finalizeEvent(template: EventTemplate, sk: Uint8Array): NostrEvent {
  return sign(template, sk, getPublicKey(sk))
}

/** A local-key Signer: synchronous, so it also fits where a `Signer` is expected. */
export type KeySigner = (template: EventTemplate) => NostrEvent

/** A Signer over a local key; the key is validated once, here, and copied. */
export function createKeySigner(sk: Uint8Array): KeySigner {
  const pubkey = getPublicKey(sk)
  const key = Uint8Array.from(sk)
  return (template) => sign(template, key, pubkey)
}
