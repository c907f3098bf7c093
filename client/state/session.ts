import { computed, signal } from '@preact/signals'
import type { ReadonlySignal, Signal } from '@preact/signals'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
// Static, not lazy: the nav already puts nip19 in the shell, and a second, dynamic way in would
// split it (and @scure/base) out of the shell's chunk into extra files every page loads.
import { decode, nsecEncode } from 'nostr-tools/nip19'
import type { EventTemplate, NostrEvent } from '../../protocol/types.ts'
import type { BunkerSession, ConnectBunker } from './bunker.ts'
import type { KeyValueStorage } from './settings.ts'

/**
 * Who is signed in and how events get signed: a NIP-07 extension, a local key kept in this
 * browser, or a NIP-46 remote signer (bunker). Signing code (secp256k1) is loaded only when a
 * local key is first used, so anonymous viewers never download it.
 */
export type SignInMethod = 'nip07' | 'local' | 'nip46'

/** window.nostr (NIP-07), the two calls we use. */
export interface Nip07 {
  getPublicKey(): Promise<string>
  signEvent(template: EventTemplate): Promise<NostrEvent>
}

export interface KeyTools {
  generateSecretKey(): Uint8Array
  getPublicKey(sk: Uint8Array): string
  createKeySigner(sk: Uint8Array): (t: EventTemplate) => NostrEvent
}

export interface Session {
  pubkey: Signal<string | undefined>
  method: Signal<SignInMethod | undefined>
  signedIn: ReadonlySignal<boolean>
  /** The last sign-in or signing problem, in plain words. */
  error: Signal<string | undefined>
  hasExtension(): boolean
  signInWithExtension(): Promise<boolean>
  /** Uses the key kept in this browser, or makes one. */
  signInWithLocalKey(): Promise<boolean>
  /** NIP-46: a bunker://… URL (or name@domain) of a remote signer. */
  signInWithBunker(input: string): Promise<boolean>
  /** nsec1… or 64 hex characters. */
  importLocalKey(text: string): Promise<boolean>
  /** The local key as nsec, for backing up; undefined with other methods. */
  exportLocalKey(): Promise<string | undefined>
  signOut(): void
  /** Throws with a plain-words message when nobody is signed in or the signer refuses. */
  sign(template: EventTemplate): Promise<NostrEvent>
}

export interface SessionOptions {
  storage: KeyValueStorage
  nostr?: () => Nip07 | undefined
  loadKeyTools?: () => Promise<KeyTools>
  /** NIP-46 connection (tests pass a double); nostr-tools' BunkerSigner by default. */
  connectBunker?: ConnectBunker
  /** Where a remote signer's "approve this app" page is opened. */
  openUrl?: (url: string) => void
}

const SESSION_KEY = 'relaycast.session'
const LOCAL_KEY = 'relaycast.localKey'

export class NotSignedInError extends Error {
  override name = 'NotSignedInError'
}

export function createSession(opts: SessionOptions): Session {
  const { storage } = opts
  const loadKeyTools = opts.loadKeyTools ?? (() => import('../../protocol/keys.ts'))
  const stored = readStored(storage)
  const pubkey = signal<string | undefined>(stored?.pubkey)
  const method = signal<SignInMethod | undefined>(stored?.method)
  const error = signal<string | undefined>(undefined)
  let localSigner: ((t: EventTemplate) => NostrEvent) | undefined
  let bunker: BunkerSession | undefined
  const getBunker = async (): Promise<BunkerSession> =>
    (bunker ??= (await import('./bunker.ts')).createBunkerSession({ storage, loadKeyTools, ...(opts.connectBunker ? { connect: opts.connectBunker } : {}), ...(opts.openUrl ? { openUrl: opts.openUrl } : {}) }))

  const remember = (m: SignInMethod, pk: string): void => {
    storage.setItem(SESSION_KEY, JSON.stringify({ method: m, pubkey: pk }))
    method.value = m
    pubkey.value = pk
    error.value = undefined
  }

  const useSecretKey = async (sk: Uint8Array): Promise<boolean> => {
    const tools = await loadKeyTools()
    const pk = tools.getPublicKey(sk)
    localSigner = tools.createKeySigner(sk)
    storage.setItem(LOCAL_KEY, bytesToHex(sk))
    remember('local', pk)
    return true
  }

  return {
    pubkey,
    method,
    signedIn: computed(() => pubkey.value !== undefined),
    error,
    hasExtension: () => opts.nostr?.() !== undefined,
    async signInWithExtension() {
      const ext = opts.nostr?.()
      if (!ext) {
        error.value = 'No Nostr browser extension found. Install one (e.g. Alby or nos2x), or use a key kept in this browser.'
        return false
      }
      try {
        remember('nip07', await ext.getPublicKey())
        return true
      } catch (err) {
        error.value = `The extension did not share your public key: ${message(err)}`
        return false
      }
    },
    async signInWithLocalKey() {
      try {
        const hex = storage.getItem(LOCAL_KEY)
        const tools = await loadKeyTools()
        return await useSecretKey(hex && /^[0-9a-f]{64}$/.test(hex) ? hexToBytes(hex) : tools.generateSecretKey())
      } catch (err) {
        error.value = `Could not set up a local key: ${message(err)}`
        return false
      }
    },
    async signInWithBunker(input) {
      try {
        remember('nip46', await (await getBunker()).connect(input))
        return true
      } catch (err) {
        error.value = `Could not connect to the remote signer: ${message(err)}`
        return false
      }
    },
    async importLocalKey(text) {
      const t = text.trim()
      try {
        let sk: Uint8Array
        if (/^[0-9a-f]{64}$/i.test(t)) sk = hexToBytes(t.toLowerCase())
        else if (t.startsWith('nsec1')) {
          const d = decode(t)
          if (d.type !== 'nsec') throw new Error('not an nsec')
          sk = d.data
        } else throw new Error('expected an nsec1… key or 64 hex characters')
        return await useSecretKey(sk)
      } catch (err) {
        error.value = `That key could not be used: ${message(err)}`
        return false
      }
    },
    async exportLocalKey() {
      const hex = storage.getItem(LOCAL_KEY)
      if (method.value !== 'local' || !hex) return undefined
      return nsecEncode(hexToBytes(hex))
    },
    signOut() {
      storage.removeItem(SESSION_KEY)
      if (method.value === 'nip46') void getBunker().then((b) => b.forget())
      bunker = undefined
      localSigner = undefined
      method.value = undefined
      pubkey.value = undefined
    },
    async sign(template) {
      const m = method.value
      if (m === 'nip07') {
        const ext = opts.nostr?.()
        if (!ext) throw new NotSignedInError('The Nostr extension is not available any more. Sign in again.')
        try {
          return await ext.signEvent(template)
        } catch (err) {
          throw new Error(`The extension did not sign: ${message(err)}`, { cause: err })
        }
      }
      if (m === 'local') {
        if (!localSigner) {
          const hex = storage.getItem(LOCAL_KEY)
          if (!hex) throw new NotSignedInError('The key kept in this browser is gone. Sign in again.')
          localSigner = (await loadKeyTools()).createKeySigner(hexToBytes(hex))
        }
        return localSigner(template)
      }
      if (m === 'nip46') return (await getBunker()).sign(template)
      throw new NotSignedInError('Sign in first.')
    },
  }
}

function readStored(storage: KeyValueStorage): { method: SignInMethod; pubkey: string } | undefined {
  const text = storage.getItem(SESSION_KEY)
  if (!text) return undefined
  try {
    const v = JSON.parse(text) as { method?: unknown; pubkey?: unknown }
    if ((v.method === 'nip07' || v.method === 'local' || v.method === 'nip46') && typeof v.pubkey === 'string' && /^[0-9a-f]{64}$/.test(v.pubkey)) {
      return { method: v.method, pubkey: v.pubkey }
    }
  } catch (err) {
    console.warn('ignoring unreadable session', err)
  }
  return undefined
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
