import NDK, { NDKEvent, NDKPrivateKeySigner, NDKRelayAuthPolicies } from '@nostr-dev-kit/ndk'
import type { NDKFilter, NDKSubscription } from '@nostr-dev-kit/ndk'
import { SimplePool } from 'nostr-tools/pool'
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay'
import type { Event as ToolsEvent, EventTemplate as ToolsTemplate, VerifiedEvent } from 'nostr-tools/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { encodeNaddr } from '../protocol/coordinate.ts'
import { compareEvents } from '../protocol/filter.ts'
import { finalizeEvent, generateSecretKey, getPublicKey } from '../protocol/keys.ts'
import { KIND_DELETION, KIND_LIVE_CHAT, KIND_LIVE_EVENT, KIND_METADATA, KIND_TEXT_NOTE } from '../protocol/kinds.ts'
import type { EventTemplate, Filter, NostrEvent } from '../protocol/types.ts'
import { startTestRelay } from './test-harness.ts'
import type { TestRelay } from './test-harness.ts'

/**
 * Real clients against the relay: NDK (v3) for what an NDK app does, nostr-tools where NDK has no
 * handle (its Relay's onauth). relay.test.ts covers nostr-tools' basics; this file adds NDK and
 * the subscriptions zap.stream opens for a stream page.
 */

// NDK finds WebSocket on globalThis; Node 20 has none.
;(globalThis as { WebSocket?: unknown }).WebSocket = WebSocket
useWebSocketImplementation(WebSocket)

// zap.stream's kinds besides NIP-53's: NIP-94-style live streams, raids and clips.
const KIND_N94_LIVE_STREAM = 1053
const KIND_LIVE_STREAM_RAID = 1312
const KIND_LIVE_STREAM_CLIP = 1313

const realNow = (): number => Math.floor(Date.now() / 1000)

function makeUser() {
  const sk = generateSecretKey()
  const pubkey = getPublicKey(sk)
  const sign = (t: Partial<EventTemplate> = {}, at = realNow()): NostrEvent =>
    finalizeEvent({ kind: KIND_TEXT_NOTE, tags: [], content: '', created_at: at, ...t }, sk)
  return { sk, pubkey, sign, signer: new NDKPrivateKeySigner(sk) }
}

/** An NDK talking to this relay only: no outbox model, no user relays, guardrails on. */
async function connectNdk(url: string, signer?: NDKPrivateKeySigner): Promise<NDK> {
  const ndk = new NDK({
    explicitRelayUrls: [url],
    ...(signer ? { signer } : {}),
    enableOutboxModel: false,
    autoConnectUserRelays: false,
    aiGuardrails: { skip: new Set(['ndk-no-cache']) },
  })
  await ndk.connect(5000)
  return ndk
}

const disconnect = (ndk: NDK): void => {
  for (const relay of ndk.pool.relays.values()) relay.disconnect()
}

/** Stored events until EOSE, then live ones on demand, from one NDK subscription. */
function watch(ndk: NDK, filters: Filter[]) {
  const stored: NDKEvent[] = []
  const live: NDKEvent[] = []
  const waiters: { pred: (e: NDKEvent) => boolean; resolve: (e: NDKEvent) => void }[] = []
  let eosed = false
  let sub: NDKSubscription | undefined
  const eose = new Promise<NDKEvent[]>((resolve) => {
    sub = ndk.subscribe(
      filters.map(ndkFilter),
      { closeOnEose: false, groupable: false },
      {
        onEvent(e) {
          if (!eosed) return void stored.push(e)
          const i = waiters.findIndex((w) => w.pred(e))
          if (i >= 0) waiters.splice(i, 1)[0].resolve(e)
          else live.push(e)
        },
        onEose() {
          eosed = true
          resolve(stored)
        },
      },
    )
  })
  return {
    eose,
    next(pred: (e: NDKEvent) => boolean = () => true): Promise<NDKEvent> {
      const i = live.findIndex(pred)
      if (i >= 0) return Promise.resolve(live.splice(i, 1)[0])
      return new Promise((resolve) => waiters.push({ pred, resolve }))
    },
    stop: () => sub?.stop(),
  }
}

/** NDK types kinds as its own enum of known kinds; ours are plain numbers. */
const ndkFilter = (f: Filter): NDKFilter => f as NDKFilter

const idsOf = (events: Iterable<NDKEvent>): string[] => [...events].map((e) => e.id).sort()

/** Why NDK's publish was refused, as the relay said it. */
async function publishError(event: NDKEvent): Promise<string> {
  try {
    await event.publish()
  } catch (err) {
    const errors = (err as { errors?: Map<unknown, Error> }).errors
    return [...(errors?.values() ?? [])].map((e) => e.message).join('; ')
  }
  throw new Error('publish was accepted')
}

describe('NDK against the relay (LMDB store)', () => {
  let t: TestRelay
  let clock = realNow()
  let alice: ReturnType<typeof makeUser>
  let ndkAlice: NDK
  let ndkBob: NDK

  beforeAll(async () => {
    t = await startTestRelay({}, { lmdb: true, now: () => clock })
    alice = makeUser()
    ndkAlice = await connectNdk(t.url, alice.signer)
    ndkBob = await connectNdk(t.url, makeUser().signer)
  })
  afterAll(async () => {
    disconnect(ndkAlice)
    disconnect(ndkBob)
    await t.stop()
  })

  it('publish resolves once the relay has it; fetchEvents finds it by author and by #t', async () => {
    const note = new NDKEvent(ndkAlice, { kind: KIND_TEXT_NOTE, content: 'going live soon', tags: [['t', 'relaycast-ndk']] })
    const relays = await note.publish()
    expect([...relays].map((r) => r.url)).toEqual([`${t.url}/`])
    expect(idsOf(await ndkBob.fetchEvents({ authors: [alice.pubkey] }))).toEqual([note.id])
    expect(idsOf(await ndkBob.fetchEvents({ '#t': ['relaycast-ndk'] }))).toEqual([note.id])
    expect(idsOf(await ndkBob.fetchEvents({ '#t': ['no-such-tag'] }))).toEqual([])
  })

  it('a subscription receives an event published later by another client', async () => {
    const w = watch(ndkBob, [{ kinds: [KIND_TEXT_NOTE], authors: [alice.pubkey], since: realNow() }])
    await w.eose
    const note = new NDKEvent(ndkAlice, { kind: KIND_TEXT_NOTE, content: 'live one' })
    await note.publish()
    expect((await w.next()).id).toBe(note.id)
    w.stop()
  })

  it('kind 0: a newer profile replaces the older one; an older one is refused', async () => {
    // A stale profile from another device, then the NDK way: publishReplaceable() stamps it now.
    const v1 = new NDKEvent(ndkAlice, { kind: KIND_METADATA, content: '{"name":"v1"}', created_at: realNow() - 20 })
    ndkAlice.guardrailOff('event-replaceable-old-timestamp')
    await v1.publish()
    const v2 = new NDKEvent(ndkAlice, { kind: KIND_METADATA, content: '{"name":"v2"}' })
    await v2.publishReplaceable()
    const profiles = await ndkBob.fetchEvents({ kinds: [KIND_METADATA], authors: [alice.pubkey] })
    expect([...profiles].map((e) => e.content)).toEqual(['{"name":"v2"}'])
    expect((await ndkBob.count({ kinds: [KIND_METADATA], authors: [alice.pubkey] })).count).toBe(1)
    const v0 = new NDKEvent(ndkAlice, { kind: KIND_METADATA, content: '{"name":"v0"}', created_at: realNow() - 30 })
    ndkAlice.guardrailOff('event-replaceable-old-timestamp')
    expect(await publishError(v0)).toMatch(/^duplicate: /)
  })

  it("NIP-09: NDK's event.delete() removes the event and it cannot come back", async () => {
    const note = new NDKEvent(ndkAlice, { kind: KIND_TEXT_NOTE, content: 'oops', tags: [['t', 'relaycast-delete']] })
    await note.publish()
    const raw = note.rawEvent() as unknown as NostrEvent
    const deletion = await note.delete('typo')
    expect(deletion.kind).toBe(KIND_DELETION)
    expect(idsOf(await ndkBob.fetchEvents({ ids: [note.id] }))).toEqual([])
    expect(idsOf(await ndkBob.fetchEvents({ kinds: [KIND_DELETION], authors: [alice.pubkey] }))).toEqual([deletion.id])
    expect((await ndkBob.count({ '#t': ['relaycast-delete'] })).count).toBe(0)
    expect(await publishError(new NDKEvent(ndkAlice, raw))).toMatch(/^blocked: /)
  })

  it('NIP-40: an expired event is refused; one that expires later disappears when the clock passes it', async () => {
    const expired = new NDKEvent(ndkAlice, { kind: KIND_TEXT_NOTE, content: 'too late', tags: [['expiration', String(clock - 1)]] })
    expect(await publishError(expired)).toMatch(/^invalid: event has expired/)
    const soon = new NDKEvent(ndkAlice, { kind: KIND_TEXT_NOTE, content: 'brb', tags: [['expiration', String(clock + 30)]] })
    await soon.publish()
    expect(idsOf(await ndkBob.fetchEvents({ ids: [soon.id] }))).toEqual([soon.id])
    clock += 31
    expect(idsOf(await ndkBob.fetchEvents({ ids: [soon.id] }))).toEqual([])
    expect((await ndkBob.count({ ids: [soon.id] })).count).toBe(0)
    clock = realNow()
  })

  it('logged no errors', () => {
    expect(t.errors).toEqual([])
  })
})

describe('NIP-42 on a relay that requires AUTH for writes', () => {
  let t: TestRelay
  beforeAll(async () => {
    t = await startTestRelay({ authRequiredForWrites: true }, { lmdb: true })
  })
  afterAll(() => t.stop())

  it("nostr-tools: refused with auth-required:, then accepted once onauth has answered the relay's challenge", async () => {
    const alice = makeUser()
    const signAuth = async (tpl: ToolsTemplate): Promise<VerifiedEvent> => alice.sign(tpl) as unknown as VerifiedEvent
    const anonymous = await Relay.connect(t.url)
    await expect(anonymous.publish(alice.sign({ content: 'anon' }) as unknown as ToolsEvent)).rejects.toThrow(/^auth-required: /)
    anonymous.close()

    const relay = new Relay(t.url)
    relay.onauth = signAuth
    await relay.connect()
    await relay.auth(signAuth) // the challenge answer onauth already sent; resolves on the relay's OK
    await expect(relay.publish(alice.sign({ content: 'authed' }) as unknown as ToolsEvent)).resolves.toBe('')
    relay.close()
  })

  it('NDK with the signIn auth policy publishes without further ado', async () => {
    const bob = makeUser()
    const ndk = new NDK({ explicitRelayUrls: [t.url], signer: bob.signer, enableOutboxModel: false, autoConnectUserRelays: false })
    ndk.relayAuthDefaultPolicy = NDKRelayAuthPolicies.signIn({ ndk })
    await ndk.connect(5000)
    const note = new NDKEvent(ndk, { kind: KIND_TEXT_NOTE, content: 'signed in' })
    await expect(note.publish()).resolves.toHaveProperty('size', 1)
    expect(idsOf(await ndk.fetchEvents({ authors: [bob.pubkey] }))).toEqual([note.id])
    disconnect(ndk)
  })
})

describe('a zap.stream-style stream page, through NDK', () => {
  let t: TestRelay
  const host = makeUser()
  const chatters = Array.from({ length: 4 }, () => makeUser())
  const coord = `${KIND_LIVE_EVENT}:${host.pubkey}:stream-1`
  const start = realNow() - 1000
  const streamTags = (status: string) => [['d', 'stream-1'], ['title', 'Test stream'], ['status', status], ['streaming', 'https://example.invalid/live.m3u8']]
  const stream = host.sign({ kind: KIND_LIVE_EVENT, tags: streamTags('live') }, start)
  // 230 chat messages, a raid and a clip, all on the stream; one message already deleted by its author.
  const chat = Array.from({ length: 230 }, (_, i) =>
    chatters[i % 4].sign({ kind: KIND_LIVE_CHAT, content: `msg ${i}`, tags: [['a', coord, '', 'root']] }, start + 1 + i),
  )
  const raid = chatters[0].sign({ kind: KIND_LIVE_STREAM_RAID, tags: [['a', coord]] }, start + 2)
  const clip = chatters[1].sign({ kind: KIND_LIVE_STREAM_CLIP, tags: [['a', coord]] }, start + 300)
  const deletedEarlier = chat[229]
  const earlierDeletion = chatters[229 % 4].sign({ kind: KIND_DELETION, tags: [['e', deletedEarlier.id], ['a', coord]] }, start + 400)
  const otherStreamChat = chatters[0].sign({ kind: KIND_LIVE_CHAT, tags: [['a', `${KIND_LIVE_EVENT}:${host.pubkey}:other`]] }, start + 500)

  beforeAll(async () => {
    t = await startTestRelay({}, { lmdb: true })
    // Seeded as the relay itself would store them: one batch, no rate limits.
    const results = await Promise.all([stream, ...chat, raid, clip, earlierDeletion, otherStreamChat].map((e) => t.relay.api.publish(e)))
    expect(results.every((r) => r.ok)).toBe(true)
  })
  afterAll(() => t.stop())

  it("nostr-tools SimplePool: zap.stream's three stream-page queries, answered from the store", async () => {
    const pool = new SimplePool()
    try {
      const unbounded = await pool.querySync([t.url], { kinds: [KIND_LIVE_EVENT, KIND_N94_LIVE_STREAM] } as never)
      expect(unbounded.map((e) => e.id)).toEqual([stream.id])
      const room = await pool.querySync([t.url], { kinds: [KIND_LIVE_CHAT, KIND_LIVE_STREAM_RAID, KIND_LIVE_STREAM_CLIP], '#a': [coord], limit: 200 } as never)
      const roomMessages = [...chat.filter((e) => e !== deletedEarlier), raid, clip].sort(compareEvents)
      expect(room.map((e) => e.id).sort()).toEqual(roomMessages.slice(0, 200).map((e) => e.id).sort())
      const deletions = await pool.querySync([t.url], { kinds: [KIND_DELETION], '#a': [coord] } as never)
      expect(deletions.map((e) => e.id)).toEqual([earlierDeletion.id])
    } finally {
      pool.destroy()
    }
  })

  it('stored results, then live updates, chat, deletions and COUNT, as a viewer sees them', async () => {
    const viewer = await connectNdk(t.url)
    const streams = watch(viewer, [{ kinds: [KIND_N94_LIVE_STREAM, KIND_LIVE_EVENT] }])
    const room = watch(viewer, [
      { kinds: [KIND_LIVE_CHAT, KIND_LIVE_STREAM_RAID, KIND_LIVE_STREAM_CLIP], '#a': [coord], limit: 200 },
      { kinds: [KIND_DELETION], '#a': [coord] },
    ])
    expect(idsOf(await streams.eose)).toEqual([stream.id])

    // The newest 200 of the room's messages (the deleted one is gone), plus the deletion.
    const roomMessages = [...chat.filter((e) => e !== deletedEarlier), raid, clip].sort(compareEvents)
    const stored = await room.eose
    expect(idsOf(stored)).toEqual([...roomMessages.slice(0, 200).map((e) => e.id), earlierDeletion.id].sort())

    // Live: the host updates the stream, someone posts a NIP-94 stream, chat arrives and is deleted.
    const ndkHost = await connectNdk(t.url, host.signer)
    const ended = new NDKEvent(ndkHost, { kind: KIND_LIVE_EVENT, content: '', tags: streamTags('ended') })
    await ended.publish()
    expect((await streams.next()).id).toBe(ended.id)
    const n94 = new NDKEvent(ndkHost, { kind: KIND_N94_LIVE_STREAM, content: '', tags: [['url', 'https://example.invalid/x.m3u8']] })
    await n94.publish()
    expect((await streams.next()).id).toBe(n94.id)
    const current = await viewer.fetchEvent(encodeNaddr({ kind: KIND_LIVE_EVENT, pubkey: host.pubkey, identifier: 'stream-1' }))
    expect(current?.id).toBe(ended.id)

    const ndkChatter = await connectNdk(t.url, chatters[0].signer)
    const message = new NDKEvent(ndkChatter, { kind: KIND_LIVE_CHAT, content: 'gg', tags: [['a', coord, '', 'root']] })
    await message.publish()
    expect((await room.next()).id).toBe(message.id)
    const deletion = new NDKEvent(ndkChatter, { kind: KIND_DELETION, content: '', tags: [['e', message.id], ['a', coord]] })
    await deletion.publish()
    expect((await room.next()).id).toBe(deletion.id)
    expect(idsOf(await viewer.fetchEvents({ ids: [message.id] }))).toEqual([])

    // Chat for another stream never reached this room.
    expect((await viewer.count(ndkFilter({ kinds: [KIND_LIVE_CHAT], '#a': [coord] }))).count).toBe(chat.length - 1)
    expect((await viewer.count(ndkFilter({ kinds: [KIND_LIVE_CHAT] }))).count).toBe(chat.length)

    streams.stop()
    room.stop()
    for (const ndk of [viewer, ndkHost, ndkChatter]) disconnect(ndk)
    expect(t.errors).toEqual([])
  })
})
