/**
 * Picks the relay's signature backend once, at start-up: the native libsecp256k1 addon when it
 * was built (`npm run build:native`), else nostr-wasm, else pure-JS noble. All give the same
 * answers; they differ only in speed.
 */
import { hash as nodeHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { checkEvent, serializeEvent, type EventHasher } from '../../protocol/event.ts'
import type { Rejection } from '../../protocol/reasons.ts'
import type { NostrEvent, SignatureCheck } from '../../protocol/types.ts'
import { createWasmSignatureCheck, nobleSignatureCheck } from '../../protocol/verify.ts'
import { TRIPLE, packTriple } from './pack.ts'

export type BackendName = 'native' | 'wasm' | 'noble'

export interface VerifyBackend {
  name: BackendName
  /** Signature only (see SignatureCheck). */
  check: SignatureCheck
  /** Many signatures in one call (one crossing into C for native). */
  checkMany: (events: readonly NostrEvent[]) => boolean[]
  /** Whether checkMany checks a chunk as one sum (native built with libsecp256k1's sources: batch.h). */
  batched: boolean
  /** The id hasher that goes best with this backend. */
  hash: EventHasher
  /** The full check of a well-shaped event: id, then signature. */
  checkEvent: (event: NostrEvent) => Rejection | undefined
  /** Backends tried before this one and why they were passed over, for the start-up log. */
  skipped: { name: BackendName; reason: string }[]
}

export interface LoadOptions {
  /** Where the native addon is; defaults to build/relaycast_verify.node beside this file. */
  nativePath?: string
}

/** The addon's interface (native.c). */
interface NativeAddon {
  verify(sig64: Uint8Array, msg32: Uint8Array, pub32: Uint8Array): boolean
  verifyBatch(triples: Uint8Array): Uint8Array
  /** Whether verifyBatch checks a chunk as one sum. */
  batched: boolean
}

/** Where `npm run build:native` puts the addon. */
export const DEFAULT_NATIVE_PATH = fileURLToPath(new URL('./build/relaycast_verify.node', import.meta.url))
const ORDER: BackendName[] = ['native', 'wasm', 'noble']

/** node:crypto's one-shot sha256: about twice as fast as the JS one on a chat-sized event. */
export const nodeEventHash: EventHasher = (e) => nodeHash('sha256', serializeEvent(e), 'hex')

function loadNative(path: string): Pick<VerifyBackend, 'check' | 'checkMany' | 'batched'> {
  if (!existsSync(path)) throw new Error(`${path} not found (run npm run build:native)`)
  const addon = createRequire(import.meta.url)(path) as NativeAddon
  // The call is synchronous, so one scratch buffer per loaded backend (per thread) is safe.
  const one = Buffer.alloc(TRIPLE)
  const sig = one.subarray(0, 64)
  const msg = one.subarray(64, 96)
  const pub = one.subarray(96, 128)
  const check: SignatureCheck = (e) => packTriple(e, one, 0) && addon.verify(sig, msg, pub)
  const checkMany = (events: readonly NostrEvent[]): boolean[] => {
    const buf = Buffer.alloc(events.length * TRIPLE)
    const wellFormed = events.map((e, i) => packTriple(e, buf, i * TRIPLE))
    const results = addon.verifyBatch(buf)
    return wellFormed.map((ok, i) => ok && results[i] === 1)
  }
  return { check, checkMany, batched: addon.batched === true }
}

async function load(name: BackendName, options: LoadOptions): Promise<Omit<VerifyBackend, 'checkEvent' | 'skipped'>> {
  if (name === 'native') return { name, ...loadNative(options.nativePath ?? DEFAULT_NATIVE_PATH), hash: nodeEventHash }
  const check = name === 'wasm' ? await createWasmSignatureCheck() : nobleSignatureCheck
  // The JS sha256 would also do; node:crypto is simply faster wherever Node runs this file.
  return { name, check, checkMany: (events) => events.map((e) => check(e)), batched: false, hash: nodeEventHash }
}

/**
 * The fastest backend that loads, trying `prefer` first; noble always loads.
 * Decide once at start-up and pass `check` (or `checkEvent`) down to the stages that need it.
 */
export async function loadSignatureCheck(prefer?: BackendName, options: LoadOptions = {}): Promise<VerifyBackend> {
  const order = prefer ? [prefer, ...ORDER.filter((n) => n !== prefer)] : ORDER
  const skipped: VerifyBackend['skipped'] = []
  for (const name of order) {
    try {
      const backend = await load(name, options)
      return { ...backend, checkEvent: (e) => checkEvent(e, backend.check, backend.hash), skipped }
    } catch (err) {
      skipped.push({ name, reason: err instanceof Error ? err.message : String(err) })
    }
  }
  // noble is in every order and cannot fail to load, so this is a bug if it ever happens.
  throw new Error(`no signature backend loaded: ${JSON.stringify(skipped)}`)
}
