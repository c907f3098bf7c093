import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import type { EventTemplate, NostrEvent } from '../../protocol/types.ts'
import type { KeyTools } from './session.ts'
import type { KeyValueStorage } from './settings.ts'

/**
 * NIP-46 remote signing (a "bunker"), loaded only when someone uses it: nostr-tools' BunkerSigner
 * brings NIP-44 and its own relay pool. This browser keeps a client key for the conversation, so
 * after a reload it reconnects without asking the signer to approve the app again.
 */

/** The part of a NIP-46 remote signer we use. */
export interface RemoteSigner {
  getPublicKey(): Promise<string>
  signEvent(template: EventTemplate): Promise<NostrEvent>
  close(): Promise<void>
}

/** Connects to a remote signer; `clientKey` is this browser's own key for the NIP-46 conversation. */
export type ConnectBunker = (
  input: string,
  clientKey: Uint8Array,
  onAuthUrl: (url: string) => void,
  /** false after a reload: the signer already knows this client, so no new `connect` request. */
  fresh: boolean,
) => Promise<{ signer: RemoteSigner; bunkerUrl: string }>

/** Where the remote signer's address and this browser's NIP-46 client key are kept. */
export const BUNKER_STORAGE_KEY = 'relaycast.bunker'

export interface BunkerSession {
  /** Connects for the first time; resolves to the user's pubkey. */
  connect(input: string): Promise<string>
  sign(template: EventTemplate): Promise<NostrEvent>
  /** Disconnects and forgets the signer and the client key (sign-out). */
  forget(): void
}

export interface BunkerOptions {
  storage: KeyValueStorage
  loadKeyTools: () => Promise<KeyTools>
  connect?: ConnectBunker
  openUrl?: (url: string) => void
}

const BUNKER_TIMEOUT_MS = 60_000

/** nostr-tools' BunkerSigner, loaded only when someone signs in with NIP-46. */
const connectWithNostrTools: ConnectBunker = async (input, clientKey, onAuthUrl, fresh) => {
  const { BunkerSigner, parseBunkerInput, toBunkerURL } = await import('nostr-tools/nip46')
  const pointer = await parseBunkerInput(input.trim())
  if (!pointer) throw new Error('expected a bunker://… address or a name@domain that has one')
  const signer = BunkerSigner.fromBunker(clientKey, pointer, { onauth: onAuthUrl })
  if (fresh) await signer.connect()
  return { signer: signer as unknown as RemoteSigner, bunkerUrl: toBunkerURL(pointer) }
}

export function createBunkerSession(opts: BunkerOptions): BunkerSession {
  const { storage, loadKeyTools } = opts
  const connectBunker = opts.connect ?? connectWithNostrTools
  const openUrl = opts.openUrl ?? ((url: string) => void globalThis.open?.(url, '_blank', 'noopener'))
  let remote: RemoteSigner | undefined


  /** Connects (or reconnects after a reload) to the remote signer, with a time limit. */
  const useBunker = async (input: string, clientHex?: string): Promise<RemoteSigner> => {
    const tools = await loadKeyTools()
    const clientKey = clientHex ? hexToBytes(clientHex) : tools.generateSecretKey()
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the remote signer did not answer within a minute')), BUNKER_TIMEOUT_MS)))
    try {
      const { signer, bunkerUrl } = await Promise.race([connectBunker(input, clientKey, openUrl, clientHex === undefined), timeout])
      storage.setItem(BUNKER_STORAGE_KEY, JSON.stringify({ bunker: bunkerUrl, client: bytesToHex(clientKey) }))
      remote = signer
      return signer
    } finally {
      clearTimeout(timer)
    }
  }

  return {
    async connect(input) {
      return (await useBunker(input)).getPublicKey()
    },
    async sign(template) {
      if (!remote) {
        const saved = readBunker(storage)
        if (!saved) throw new Error('The remote signer connection is gone. Sign in again.')
        await useBunker(saved.bunker, saved.client)
      }
      try {
        return await remote!.signEvent(template)
      } catch (err) {
        throw new Error(`The remote signer did not sign: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
      }
    },
    forget() {
      storage.removeItem(BUNKER_STORAGE_KEY)
      void remote?.close().catch((err: unknown) => console.warn('remote signer did not close cleanly', err))
      remote = undefined
    },
  }
}

function readBunker(storage: KeyValueStorage): { bunker: string; client: string } | undefined {
  try {
    const v = JSON.parse(storage.getItem(BUNKER_STORAGE_KEY) ?? 'null') as { bunker?: unknown; client?: unknown } | null
    return v && typeof v.bunker === 'string' && typeof v.client === 'string' && /^[0-9a-f]{64}$/.test(v.client) ? { bunker: v.bunker, client: v.client } : undefined
  } catch (err) {
    console.warn('ignoring unreadable remote signer settings', err)
    return undefined
  }
}

