import { Relay, useWebSocketImplementation } from 'nostr-tools/relay'
import type { Event as ToolsEvent, EventTemplate as ToolsTemplate, VerifiedEvent } from 'nostr-tools/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { finalizeEvent, generateSecretKey, getPublicKey } from '../protocol/keys.ts'
import { KIND_AUTH, KIND_DELETION, KIND_METADATA, KIND_TEXT_NOTE } from '../protocol/kinds.ts'
import type { EventTemplate, Filter, NostrEvent } from '../protocol/types.ts'
import { connectRaw, isVerb, startTestRelay } from './test-harness.ts'
import type { Message, TestRelay } from './test-harness.ts'

useWebSocketImplementation(WebSocket)

const now = (): number => Math.floor(Date.now() / 1000)
const KIND_EPHEMERAL = 20001

function makeUser() {
  const sk = generateSecretKey()
  const pubkey = getPublicKey(sk)
  const sign = (t: Partial<EventTemplate> = {}): NostrEvent =>
    finalizeEvent({ kind: KIND_TEXT_NOTE, tags: [], content: '', created_at: now(), ...t }, sk)
  const signAuth = async (t: ToolsTemplate): Promise<VerifiedEvent> => sign(t) as unknown as VerifiedEvent
  return { sk, pubkey, sign, signAuth }
}

/** Collects a subscription's stored events (until EOSE), then lets the test await live ones. */
function subscribe(relay: Relay, filters: Filter[]) {
  const stored: NostrEvent[] = []
  const live: NostrEvent[] = []
  const waiters: ((e: NostrEvent) => void)[] = []
  let eosed = false
  let resolveEose: () => void = () => undefined
  const eose = new Promise<NostrEvent[]>((resolve) => (resolveEose = () => resolve(stored)))
  const sub = relay.subscribe(filters as never, {
    onevent(e: ToolsEvent) {
      const event = JSON.parse(JSON.stringify(e)) as NostrEvent // drop nostr-tools' verified mark
      if (!eosed) return void stored.push(event)
      const w = waiters.shift()
      if (w) w(event)
      else live.push(event)
    },
    oneose() {
      eosed = true
      resolveEose()
    },
  })
  return {
    sub,
    eose,
    nextLive: (): Promise<NostrEvent> => {
      const e = live.shift()
      return e ? Promise.resolve(e) : new Promise((resolve) => waiters.push(resolve))
    },
    liveSoFar: live,
  }
}

const publish = (relay: Relay, e: NostrEvent): Promise<string> => relay.publish(e as unknown as ToolsEvent)

describe.each([
  ['LMDB', true],
  ['memory', false],
])('relay on the %s store, over WebSocket (nostr-tools clients)', (_name, lmdb) => {
  let t: TestRelay
  let a: Relay
  let b: Relay

  beforeAll(async () => {
    t = await startTestRelay({}, { lmdb })
    a = await Relay.connect(t.url)
    b = await Relay.connect(t.url)
  })
  afterAll(async () => {
    a.close()
    b.close()
    await t.stop()
  })

  it('publish → OK, then a REQ returns the event and EOSE', async () => {
    const alice = makeUser()
    const note = alice.sign({ content: 'hello' })
    await expect(publish(a, note)).resolves.toBe('')
    const stored = await subscribe(b, [{ authors: [alice.pubkey] }]).eose
    expect(stored).toEqual([note])
  })

  it('a duplicate is accepted with duplicate:', async () => {
    const note = makeUser().sign()
    await publish(a, note)
    await expect(publish(a, note)).resolves.toMatch(/^duplicate: /)
  })

  it('a live subscription receives new events from other connections, and CLOSE stops them', async () => {
    const alice = makeUser()
    const s = subscribe(b, [{ authors: [alice.pubkey], kinds: [KIND_TEXT_NOTE] }])
    expect(await s.eose).toEqual([])
    const first = alice.sign({ content: 'one' })
    await publish(a, first)
    expect(await s.nextLive()).toEqual(first)
    s.sub.close()
    await publish(a, alice.sign({ content: 'after close' }))
    // A second subscription on the same connection proves the first one got nothing more:
    // the relay answers in order, so its EOSE comes after anything sent to the first.
    await subscribe(b, [{ ids: ['0'.repeat(64)] }]).eose
    expect(s.liveSoFar).toEqual([])
  })

  it('replaceable events: the newest wins in queries and goes live', async () => {
    const alice = makeUser()
    const s = subscribe(b, [{ authors: [alice.pubkey], kinds: [KIND_METADATA] }])
    await s.eose
    const v1 = alice.sign({ kind: KIND_METADATA, content: '{"name":"v1"}', created_at: now() - 10 })
    const v2 = alice.sign({ kind: KIND_METADATA, content: '{"name":"v2"}', created_at: now() - 5 })
    await publish(a, v1)
    await publish(a, v2)
    await expect(publish(a, alice.sign({ kind: KIND_METADATA, created_at: now() - 20 }))).rejects.toThrow(/^duplicate: /)
    expect(await s.nextLive()).toEqual(v1)
    expect(await s.nextLive()).toEqual(v2)
    expect(await subscribe(a, [{ authors: [alice.pubkey], kinds: [KIND_METADATA] }]).eose).toEqual([v2])
  })

  it('NIP-09: a deletion removes the event, and it cannot come back', async () => {
    const alice = makeUser()
    const note = alice.sign({ content: 'oops' })
    await publish(a, note)
    const deletion = alice.sign({ kind: KIND_DELETION, tags: [['e', note.id]] })
    await publish(a, deletion)
    const stored = await subscribe(b, [{ authors: [alice.pubkey] }]).eose
    expect(stored).toEqual([deletion])
    await expect(publish(a, note)).rejects.toThrow(/^blocked: /)
  })

  it('NIP-45 COUNT', async () => {
    const alice = makeUser()
    for (let i = 0; i < 3; i++) await publish(a, alice.sign({ content: `n${i}` }))
    await expect(b.count([{ authors: [alice.pubkey] }] as never, {})).resolves.toBe(3)
    await expect(b.count([{ authors: [alice.pubkey], kinds: [KIND_METADATA] }] as never, {})).resolves.toBe(0)
  })

  it('ephemeral events reach live subscribers but are never stored', async () => {
    const alice = makeUser()
    const s = subscribe(b, [{ authors: [alice.pubkey] }])
    await s.eose
    const ping = alice.sign({ kind: KIND_EPHEMERAL, content: 'ping' })
    await expect(publish(a, ping)).resolves.toBe('')
    expect(await s.nextLive()).toEqual(ping)
    expect(await subscribe(a, [{ authors: [alice.pubkey] }]).eose).toEqual([])
  })

  it('a REQ with the id of an open subscription replaces it', async () => {
    const alice = makeUser()
    const raw = await connectRaw(t.url)
    raw.send(['REQ', 'x', { authors: [alice.pubkey], kinds: [KIND_TEXT_NOTE] }])
    await raw.next(isVerb('EOSE', 'x'))
    raw.send(['REQ', 'x', { authors: [alice.pubkey], kinds: [KIND_METADATA] }])
    await raw.next(isVerb('EOSE', 'x'))
    await publish(a, alice.sign({ kind: KIND_TEXT_NOTE }))
    const meta = alice.sign({ kind: KIND_METADATA })
    await publish(a, meta)
    // Events on one connection arrive in order: the first EVENT for x must be the metadata.
    expect(await raw.next(isVerb('EVENT', 'x'))).toEqual(['EVENT', 'x', meta])
    expect(t.relay.stats().subscriptions).toBeGreaterThanOrEqual(1)
    raw.close()
  })

  it('NIP-42 AUTH: a protected (NIP-70) event needs AUTH as its author', async () => {
    const alice = makeUser()
    const bob = makeUser()
    const c = await Relay.connect(t.url)
    const protectedNote = alice.sign({ tags: [['-']], content: 'mine' })
    await expect(publish(c, protectedNote)).rejects.toThrow(/^auth-required: /)
    await expect(c.auth(bob.signAuth)).resolves.toBe('')
    await expect(publish(c, protectedNote)).rejects.toThrow(/^restricted: /)
    const d = await Relay.connect(t.url)
    await d.auth(alice.signAuth)
    await expect(publish(d, protectedNote)).resolves.toBe('')
    c.close()
    d.close()
  })

  it('AUTH with a wrong challenge, relay or time is refused with a reason', async () => {
    const alice = makeUser()
    const raw = await connectRaw(t.url)
    const auth = (tags: string[][], created_at = now()) => alice.sign({ kind: KIND_AUTH, tags, created_at })
    const cases: [NostrEvent, RegExp][] = [
      [auth([['relay', t.url], ['challenge', 'nope']]), /^invalid: AUTH challenge/],
      [auth([['relay', 'ws://elsewhere.example'], ['challenge', raw.challenge]]), /^invalid: AUTH relay tag/],
      [auth([['relay', t.url], ['challenge', raw.challenge]], now() - 3600), /^invalid: AUTH event created_at/],
      [alice.sign({ tags: [['relay', t.url], ['challenge', raw.challenge]] }), /^invalid: AUTH event must be kind/],
    ]
    for (const [event, reason] of cases) {
      raw.send(['AUTH', event])
      const ok = await raw.next(isVerb('OK', event.id))
      expect(ok[2]).toBe(false)
      expect(ok[3]).toMatch(reason)
    }
    const good = auth([['relay', `${t.url}/`], ['challenge', raw.challenge]])
    raw.send(['AUTH', good])
    expect(await raw.next(isVerb('OK', good.id))).toEqual(['OK', good.id, true, ''])
    raw.close()
  })

  it('logged no errors', () => {
    expect(t.errors).toEqual([])
  })

  it('kind 22242 is not published with EVENT', async () => {
    const raw = await connectRaw(t.url)
    const event = makeUser().sign({ kind: KIND_AUTH, tags: [['relay', t.url], ['challenge', raw.challenge]] })
    raw.send(['EVENT', event])
    const ok = await raw.next(isVerb('OK', event.id))
    expect(ok.slice(2)).toEqual([false, expect.stringMatching(/^invalid: /)])
    raw.close()
  })
})

describe('bad input gets a specific answer and harms nobody', () => {
  let t: TestRelay
  beforeAll(async () => {
    t = await startTestRelay({ limits: { ...(await import('../protocol/limits.ts')).DEFAULT_LIMITS, maxSubscriptions: 2 } })
  })
  afterAll(() => t.stop())

  const cases: [string, string | unknown[], (m: Message) => boolean, RegExp][] = [
    ['not JSON', '{nope', isVerb('NOTICE'), /^invalid: message is not JSON/],
    ['not an array', '{"a":1}', isVerb('NOTICE'), /^invalid: /],
    ['unknown verb', ['HELLO', 1], isVerb('NOTICE'), /^invalid: unknown message type/],
    ['REQ without filters', ['REQ', 'r1'], isVerb('CLOSED', 'r1'), /^invalid: /],
    ['REQ with a bad filter', ['REQ', 'r2', { kinds: ['x'] }], isVerb('CLOSED', 'r2'), /^invalid: kinds/],
    ['REQ with an unknown filter key', ['REQ', 'r3', { foo: 1 }], isVerb('CLOSED', 'r3'), /^invalid: unknown filter key/],
    ['COUNT with a bad filter', ['COUNT', 'c1', { ids: ['zz'] }], isVerb('CLOSED', 'c1'), /^invalid: ids/],
    ['EVENT that is not an object', ['EVENT', 42], isVerb('NOTICE'), /^invalid: event must be a JSON object/],
  ]
  for (const [name, frame, pred, reason] of cases) {
    it(name, async () => {
      const raw = await connectRaw(t.url)
      raw.send(frame)
      const answer = await raw.next(pred)
      expect(answer[answer.length - 1]).toMatch(reason)
      raw.close()
    })
  }

  it('EVENTs with a bad signature, a wrong id or a far-future time are refused by id', async () => {
    const raw = await connectRaw(t.url)
    const alice = makeUser()
    const good = alice.sign({ content: 'x' })
    const badSig = { ...good, sig: good.sig.replace(/^./, (c) => (c === '0' ? '1' : '0')) }
    const badId = { ...good, content: 'tampered' }
    const future = alice.sign({ created_at: now() + 3600 })
    const extraField = { ...alice.sign(), extra: 1 }
    const expectations: [{ id: string }, RegExp][] = [
      [badSig, /^invalid: bad signature/],
      [badId, /^invalid: event id does not match/],
      [future, /^invalid: created_at is more than \d+ seconds in the future/],
      [extraField, /^invalid: unknown field "extra"/],
    ]
    for (const [event, reason] of expectations) {
      raw.send(['EVENT', event])
      const ok = await raw.next(isVerb('OK', event.id))
      expect(ok[2]).toBe(false)
      expect(ok[3]).toMatch(reason)
    }
    raw.close()
  })

  it('oversized messages and contents are refused by event id; far too big ones close the socket', async () => {
    const raw = await connectRaw(t.url)
    const alice = makeUser()
    const big = alice.sign({ content: 'x'.repeat(t.config.limits.maxMessageBytes) })
    raw.send(['EVENT', big])
    expect((await raw.next(isVerb('OK', big.id)))[3]).toMatch(/^invalid: message is larger than/)
    const fat = alice.sign({ content: 'x'.repeat(t.config.limits.maxContentBytes + 1) })
    raw.send(['EVENT', fat])
    expect((await raw.next(isVerb('OK', fat.id)))[3]).toMatch(/^invalid: content is larger than/)
    raw.send(['EVENT', alice.sign({ content: 'x'.repeat(t.config.limits.maxMessageBytes * 2) })])
    expect(await raw.closed).toBe(1009)
  })

  it('too many subscriptions → CLOSED; replacing an open one is still allowed', async () => {
    const raw = await connectRaw(t.url)
    raw.send(['REQ', 's1', { kinds: [1] }])
    raw.send(['REQ', 's2', { kinds: [1] }])
    raw.send(['REQ', 's3', { kinds: [1] }])
    const closed = await raw.next(isVerb('CLOSED', 's3'))
    expect(closed[2]).toMatch(/^rate-limited: too many open subscriptions/)
    raw.send(['REQ', 's2', { kinds: [2] }])
    await raw.next(isVerb('EOSE', 's2'))
    raw.send(['CLOSE', 's1'])
    raw.send(['REQ', 's3', { kinds: [1] }])
    await raw.next(isVerb('EOSE', 's3'))
    raw.close()
  })

  it('a binary frame closes only that connection', async () => {
    const raw = await connectRaw(t.url)
    const other = await connectRaw(t.url)
    raw.ws.send(Buffer.from([1, 2, 3]))
    expect(await raw.closed).toBe(1003)
    other.send(['REQ', 'ok', { limit: 1 }])
    await other.next(isVerb('EOSE', 'ok'))
    other.close()
  })

  it('logged no errors for any of it', () => {
    expect(t.errors).toEqual([])
  })
})

describe('SimplePool against the relay', () => {
  it('publishes, queries and subscribes through a pool', async () => {
    const { SimplePool, useWebSocketImplementation: usePoolWebSocket } = await import('nostr-tools/pool')
    usePoolWebSocket(WebSocket)
    const t = await startTestRelay({}, { lmdb: true })
    const pool = new SimplePool()
    const alice = makeUser()
    const live = new Promise<NostrEvent>((resolve) => {
      pool.subscribe([t.url], { authors: [alice.pubkey], kinds: [KIND_TEXT_NOTE] }, { onevent: (e) => resolve(e as unknown as NostrEvent) })
    })
    const note = alice.sign({ content: 'via pool' })
    await Promise.all(pool.publish([t.url], note as unknown as ToolsEvent))
    expect((await live).id).toBe(note.id)
    const found = await pool.querySync([t.url], { authors: [alice.pubkey] })
    expect(found.map((e) => e.id)).toEqual([note.id])
    pool.destroy()
    await t.stop()
    expect(t.errors).toEqual([])
  })
})
