/**
 * Signature backends, injectable and interchangeable: each answers only "is `sig` a valid
 * BIP-340 signature of `id` by `pubkey`", and all answer alike for every input.
 */
import { schnorr } from '@noble/curves/secp256k1.js'
import { hexToBytes } from '@noble/hashes/utils.js'
import { checkEvent, isHex128, isHex64, validateEventShape } from './event.ts'
import { finalizeEvent, generateSecretKey } from './keys.ts'
import { KIND_TEXT_NOTE } from './kinds.ts'
import type { NostrEvent, SignatureCheck } from './types.ts'

/** Whether id, pubkey and sig are lowercase hex of the right lengths; backends refuse anything else. */
export function hasWellFormedSignature(e: NostrEvent): boolean {
  return isHex64(e.id) && isHex64(e.pubkey) && isHex128(e.sig)
}

/** Pure JS (@noble/curves). Slowest, but needs nothing: the fallback everywhere. */
export const nobleSignatureCheck: SignatureCheck = (e) =>
  hasWellFormedSignature(e) && schnorr.verify(hexToBytes(e.sig), hexToBytes(e.id), hexToBytes(e.pubkey))

// nostr-wasm's only verifier also re-checks the id and reports failures as thrown messages.
// These two mean the signature itself was judged (the id matched); anything else, notably
// "id is invalid", says nothing about the signature, so noble decides.
const SIGNATURE_VERDICTS = new Set(['signature is invalid', 'pubkey is invalid'])

let wasmCheck: Promise<SignatureCheck> | undefined

/**
 * libsecp256k1 compiled to WASM (nostr-wasm), in Node, Deno and browsers. Loaded lazily so
 * code that never asks for it does not carry its 290 KB. Rejects if the module fails its
 * self-test, so a caller can fall back to noble.
 */
export function createWasmSignatureCheck(): Promise<SignatureCheck> {
  // One instance serves every caller (calls are synchronous); a failed load may be retried.
  wasmCheck ??= loadWasm().catch((err: unknown) => {
    wasmCheck = undefined
    throw err
  })
  return wasmCheck
}

async function loadWasm(): Promise<SignatureCheck> {
  const { initNostrWasm } = await import('nostr-wasm')
  const nw = await initNostrWasm()
  const check: SignatureCheck = (e) => {
    if (!hasWellFormedSignature(e)) return false
    try {
      nw.verifyEvent(e)
      return true
    } catch (err) {
      if (err instanceof Error && SIGNATURE_VERDICTS.has(err.message)) return false
      return nobleSignatureCheck(e)
    }
  }
  selfTest(check)
  return check
}

function selfTest(check: SignatureCheck): void {
  const good = finalizeEvent({ kind: KIND_TEXT_NOTE, tags: [], content: 'self-test', created_at: 0 }, generateSecretKey())
  const flipped = (good.sig[0] === '0' ? '1' : '0') + good.sig.slice(1)
  if (!check(good) || check({ ...good, sig: flipped })) {
    throw new Error('nostr-wasm failed its self-test: valid and invalid signatures were not told apart')
  }
}

/** Shape, id and signature: whether `e` is a genuine event. Never throws. */
export function verifyEvent(e: unknown, check: SignatureCheck): e is NostrEvent {
  return validateEventShape(e) === undefined && checkEvent(e as NostrEvent, check) === undefined
}
