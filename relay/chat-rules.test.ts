import { rm } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KIND_DELETION, KIND_MUTE_LIST } from '../protocol/kinds.ts'
import type { EventTemplate, NostrEvent } from '../protocol/types.ts'
import { signAs, testPubkey } from '../test/fixtures/keys.ts'
import type { TestKeyName } from '../test/fixtures/keys.ts'
import { createSlowMode, createStreamPace, getStreamRules } from './chat-rules.ts'
import { Relay, chat, coordOf, fetchIds, send, stream } from './live-test-kit.ts'
import { createRelay } from './relay.ts'
import { createTestLogger, startTestRelay } from './test-harness.ts'
import type { TestRelay } from './test-harness.ts'

const HOST = testPubkey('host')
const TALK = coordOf(HOST, 'talk')

describe('chat rules, enforced by the relay', () => {
  let t: TestRelay
  let client: Relay
  let clock = Math.floor(Date.now() / 1000)

  const post = (name: TestKeyName, template: EventTemplate) => send(client, signAs(name, template))
  async function accepted(name: TestKeyName, template: EventTemplate): Promise<NostrEvent> {
    const event = signAs(name, template)
    expect(await send(client, event)).toEqual({ ok: true, reason: '' })
    return event
  }
  const say = (name: TestKeyName, content: string, coord = TALK) => post(name, chat(coord, content, clock))
  // No `a` to the stream: from its host, NIP-09 would delete the 30311 itself.
  const deletion = (ids: string[]): EventTemplate => ({
    kind: KIND_DELETION,
    created_at: clock,
    tags: [...ids.map((id) => ['e', id]), ['k', '1311']],
    content: 'moderated',
  })

  beforeAll(async () => {
    // LMDB: removals commit asynchronously there, so "gone by the OK" is really tested.
    t = await startTestRelay({}, { now: () => clock, lmdb: true })
    client = await Relay.connect(t.url)
    await accepted('host', stream('talk', clock, { hosts: [{ pubkey: testPubkey('moderator'), role: 'moderator' }] }))
    await accepted('host', stream('quiet', clock, { chat: false }))
  })
  afterAll(async () => {
    client.close()
    await t.stop()
  })

  it('refuses chat to a stream with chat off', async () => {
    expect(await say('alice', 'hello?', coordOf(HOST, 'quiet'))).toEqual({ ok: false, reason: 'blocked: chat is off for this stream' })
  })

  it("refuses chat from pubkeys on the host's mute list, following the list as it changes", async () => {
    clock += 10
    expect((await say('bob', 'before the list')).ok).toBe(true) // the host has no list yet: cached as none
    await accepted('host', { kind: KIND_MUTE_LIST, created_at: clock, tags: [['p', testPubkey('bob')]], content: '' })
    expect(await say('bob', 'muted now')).toEqual({ ok: false, reason: 'blocked: you are muted in this stream' })
    expect((await say('alice', 'not muted')).ok).toBe(true)
    // On every stream of this host, also one the relay does not hold.
    expect((await say('bob', 'elsewhere', coordOf(HOST, 'not-here'))).reason).toBe('blocked: you are muted in this stream')
    await accepted('host', { kind: KIND_MUTE_LIST, created_at: clock + 1, tags: [], content: '' })
    expect((await say('bob', 'forgiven')).ok).toBe(true)
  })

  it('accepts chat to a stream this relay does not hold', async () => {
    expect(await say('alice', 'hi there', coordOf(testPubkey('dvm'), 'somewhere-else'))).toEqual({ ok: true, reason: '' })
  })

  it('slow mode: a burst of 3, then one message per 2 s per pubkey per stream; hosts are exempt', async () => {
    clock += 10
    const slow = coordOf(HOST, 'slow')
    await accepted('host', stream('slow', clock))
    for (const n of [1, 2, 3]) expect((await say('alice', `burst ${n}`, slow)).ok).toBe(true)
    expect(await say('alice', 'one more', slow)).toEqual({ ok: false, reason: 'rate-limited: slow mode: wait 2s' })
    expect((await say('alice', 'another stream', TALK)).ok).toBe(true)
    clock += 1
    expect((await say('alice', 'half a second later', slow)).reason).toBe('rate-limited: slow mode: wait 1s')
    clock += 1
    expect((await say('alice', 'after the wait', slow)).ok).toBe(true)
    for (const n of [1, 2, 3, 4, 5]) expect((await say('host', `host ${n}`, slow)).ok).toBe(true)
    // History (relay sync, backfill) is not live chat: not slowed.
    for (const n of [1, 2]) expect((await post('alice', chat(slow, `old ${n}`, clock - 3600))).ok).toBe(true)
  })

  it("a stream's own slow_mode paces each viewer to one message per s seconds, and follows the host's changes", async () => {
    clock += 10
    const paced = coordOf(HOST, 'paced')
    await accepted('host', stream('paced', clock, { slowMode: 30 }))
    expect((await say('bob', 'first', paced)).ok).toBe(true)
    expect(await say('bob', 'second', paced)).toEqual({ ok: false, reason: 'rate-limited: slow mode: wait 30s' })
    expect((await say('alice', 'someone else', paced)).ok).toBe(true)
    for (const n of [1, 2]) expect((await say('host', `host ${n}`, paced)).ok).toBe(true)
    clock += 20
    expect((await say('bob', 'still early', paced)).reason).toBe('rate-limited: slow mode: wait 10s')
    clock += 10
    expect((await say('bob', 'on time', paced)).ok).toBe(true)
    // The host turns it off: the new 30311 lifts the pace at once.
    await accepted('host', stream('paced', clock + 1, { slowMode: 0 }))
    expect((await say('bob', 'free again', paced)).ok).toBe(true)
  })

  it("the host's deletion removes a chat message before the OK, and it cannot be sent again", async () => {
    clock += 10
    const message = await accepted('alice', chat(TALK, 'regrettable', clock))
    const del = await accepted('host', deletion([message.id]))
    expect(await fetchIds(client, [{ ids: [message.id, del.id] }])).toEqual([del.id])
    expect(await send(client, message)).toEqual({ ok: false, reason: 'blocked: removed by a moderator' })
  })

  it("a moderator's deletion removes chat; a random user's deletion does not", async () => {
    clock += 10
    const first = await accepted('bob', chat(TALK, 'spam', clock))
    const second = await accepted('bob', chat(TALK, 'more spam', clock))
    const byModerator = await accepted('moderator', deletion([first.id]))
    const byRandom = await accepted('alice', deletion([second.id]))
    expect(await fetchIds(client, [{ ids: [first.id, second.id, byModerator.id, byRandom.id] }])).toEqual(
      [second.id, byModerator.id, byRandom.id].sort(),
    )
    // A moderator of this stream has no say over another host's streams.
    const theirs = await accepted('bob', chat(coordOf(testPubkey('dvm'), 'their-stream'), 'hello', clock))
    await accepted('moderator', deletion([theirs.id]))
    expect(await fetchIds(client, [{ ids: [theirs.id] }])).toEqual([theirs.id])
  })
})

describe('moderator removals across a restart', () => {
  it('chat a moderator removed stays out after the relay restarts on the same data', async () => {
    const clock = Math.floor(Date.now() / 1000)
    const t = await startTestRelay({}, { now: () => clock, lmdb: true })
    try {
      const client = await Relay.connect(t.url)
      expect((await send(client, signAs('host', stream('restart', clock)))).ok).toBe(true)
      const message = signAs('alice', chat(coordOf(HOST, 'restart'), 'remove me', clock))
      expect((await send(client, message)).ok).toBe(true)
      const del = signAs('host', { kind: KIND_DELETION, created_at: clock, tags: [['e', message.id]], content: '' })
      expect((await send(client, del)).ok).toBe(true)
      client.close()
      await t.relay.close()

      const again = await createRelay(t.config, { log: createTestLogger(), now: () => clock })
      await again.listen()
      try {
        const fresh = await Relay.connect(again.url)
        expect(await send(fresh, message)).toEqual({ ok: false, reason: 'blocked: removed by a moderator' })
        expect(await fetchIds(fresh, [{ ids: [message.id] }])).toEqual([])
        // The record is the relay's own kind 5, which under NIP-09 deletes nothing of anyone else's.
        const records = await fetchIds(fresh, [{ kinds: [KIND_DELETION], authors: [again.api.pubkey] }])
        expect(records.length).toBe(1)
        fresh.close()
      } finally {
        await again.close()
      }
    } finally {
      await rm(t.dataDir, { recursive: true, force: true })
    }
  })
})

describe('chat rule helpers', () => {
  it('reads hosts (author + "Host" p tags) and moderators (any case) from a 30311', () => {
    const rules = getStreamRules(
      signAs(
        'host',
        stream('x', 1, {
          chat: false,
          hosts: [
            { pubkey: testPubkey('alice'), role: 'host' },
            { pubkey: testPubkey('moderator'), role: 'MODERATOR' },
            { pubkey: testPubkey('bob'), role: 'Speaker' },
          ],
        }),
      ),
    )
    expect(rules).toMatchObject({ chat: false, hosts: [HOST, testPubkey('alice')], moderators: [testPubkey('moderator')] })
  })

  it("a stream's pace answers the seconds left, follows a changed pace, and forgets after an hour", () => {
    const pace = createStreamPace()
    expect(pace.take('k', 100, 10)).toBe(0)
    expect(pace.take('k', 104, 10)).toBe(6)
    expect(pace.take('k', 104, 5)).toBe(1) // the host shortened it
    expect(pace.take('k', 110, 10)).toBe(0)
    expect(pace.take('other', 3800, 10)).toBe(0)
    expect(pace.size).toBe(1) // 'k' was last seen over an hour ago
  })

  it('slow mode answers the whole seconds to wait, refills over time, and is off at 0', () => {
    const slow = createSlowMode(2, 3)
    expect([0, 0, 0, 0].map(() => slow.take('k', 100))).toEqual([0, 0, 0, 2])
    expect(slow.take('other', 100)).toBe(0)
    expect(slow.take('k', 103)).toBe(0) // 1.5 tokens after 3 s
    expect(slow.take('k', 103)).toBe(1)
    expect(createSlowMode(0, 1).take('k', 100)).toBe(0)
  })
})
