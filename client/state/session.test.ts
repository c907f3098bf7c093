import { describe, expect, it } from 'vitest'
import { nobleSignatureCheck, verifyEvent } from '../../protocol/verify.ts'
import { createSession } from './session.ts'
import type { ConnectBunker } from './bunker.ts'
import type { Nip07 } from './session.ts'
import { testPubkey, testSigner } from '../../test/fixtures/keys.ts'
import { createMemoryStorage } from './settings.ts'

const template = { kind: 1311, created_at: 1_750_000_000, tags: [], content: 'hi' }

describe('session', () => {
  it('is anonymous at first and refuses to sign in plain words', async () => {
    const s = createSession({ storage: createMemoryStorage() })
    expect(s.signedIn.value).toBe(false)
    await expect(s.sign(template)).rejects.toThrow('Sign in first.')
  })

  it('makes a local key, signs valid events with it, and keeps it across sessions and sign-outs', async () => {
    const storage = createMemoryStorage()
    const s = createSession({ storage })
    expect(await s.signInWithLocalKey()).toBe(true)
    const pubkey = s.pubkey.value!
    expect(pubkey).toMatch(/^[0-9a-f]{64}$/)
    const event = await s.sign(template)
    expect(event.pubkey).toBe(pubkey)
    expect(verifyEvent(event, nobleSignatureCheck)).toBe(true)
    // A reload: the session is restored without loading signing code until it is needed.
    const again = createSession({ storage })
    expect(again.pubkey.value).toBe(pubkey)
    expect((await again.sign(template)).pubkey).toBe(pubkey)
    expect(await again.exportLocalKey()).toMatch(/^nsec1/)
    again.signOut()
    expect(again.signedIn.value).toBe(false)
    expect(createSession({ storage }).signedIn.value).toBe(false)
    await again.signInWithLocalKey()
    expect(again.pubkey.value).toBe(pubkey)
  })

  it('imports an nsec or hex key and refuses garbage', async () => {
    const a = createSession({ storage: createMemoryStorage() })
    await a.signInWithLocalKey()
    const nsec = (await a.exportLocalKey())!
    const b = createSession({ storage: createMemoryStorage() })
    expect(await b.importLocalKey(`  ${nsec} `)).toBe(true)
    expect(b.pubkey.value).toBe(a.pubkey.value)
    const c = createSession({ storage: createMemoryStorage() })
    expect(await c.importLocalKey('nsec1nope')).toBe(false)
    expect(c.error.value).toMatch(/could not be used/)
    expect(c.signedIn.value).toBe(false)
  })

  it('uses a NIP-07 extension when there is one, and says so when there is not', async () => {
    const signed: unknown[] = []
    const ext: Nip07 = {
      getPublicKey: async () => 'b'.repeat(64),
      signEvent: async (t) => (signed.push(t), { ...t, pubkey: 'b'.repeat(64), id: 'c'.repeat(64), sig: 'd'.repeat(128) }),
    }
    const s = createSession({ storage: createMemoryStorage(), nostr: () => ext })
    expect(s.hasExtension()).toBe(true)
    expect(await s.signInWithExtension()).toBe(true)
    expect(s.method.value).toBe('nip07')
    expect((await s.sign(template)).pubkey).toBe('b'.repeat(64))
    expect(signed).toEqual([template])
    expect(await s.exportLocalKey()).toBeUndefined()
    const none = createSession({ storage: createMemoryStorage(), nostr: () => undefined })
    expect(await none.signInWithExtension()).toBe(false)
    expect(none.error.value).toMatch(/No Nostr browser extension/)
  })

  it('signs through a NIP-46 remote signer, reconnecting after a reload with the same client key', async () => {
    const storage = createMemoryStorage()
    const clientKeys: string[] = []
    const connectBunker: ConnectBunker = async (input, clientKey) => {
      if (!input.startsWith('bunker://')) throw new Error('expected a bunker://… address')
      clientKeys.push(Buffer.from(clientKey).toString('hex'))
      const remote = testSigner('alice')
      return { bunkerUrl: input, signer: { getPublicKey: async () => testPubkey('alice'), signEvent: async (t) => remote(t), close: async () => undefined } }
    }
    const s = createSession({ storage, connectBunker })
    expect(await s.signInWithBunker('nope')).toBe(false)
    expect(s.error.value).toMatch(/Could not connect to the remote signer: expected a bunker/)
    expect(await s.signInWithBunker('bunker://' + 'e'.repeat(64) + '?relay=wss://r.example')).toBe(true)
    expect(s.method.value).toBe('nip46')
    expect((await s.sign(template)).pubkey).toBe(testPubkey('alice'))
    const reloaded = createSession({ storage, connectBunker })
    expect(reloaded.pubkey.value).toBe(testPubkey('alice'))
    expect((await reloaded.sign(template)).pubkey).toBe(testPubkey('alice'))
    expect(clientKeys[1]).toBe(clientKeys[0])
    reloaded.signOut()
    expect(createSession({ storage, connectBunker }).signedIn.value).toBe(false)
  })
})
