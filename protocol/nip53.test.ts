import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseCoordinate } from './coordinate.ts'
import { getEventHash, validateEventShape } from './event.ts'
import { KIND_LIVE_CHAT, KIND_LIVE_EVENT, KIND_TEXT_NOTE } from './kinds.ts'
import {
  buildChatMessage,
  buildLiveEvent,
  getChatMessage,
  getChatTarget,
  getLiveEvent,
  isHostRole,
  isLiveNow,
  validateLiveEvent,
} from './nip53.ts'
import type { ChatMessageInput, LiveEvent, LiveEventInput } from './nip53.ts'
import type { EventTemplate, NostrEvent } from './types.ts'
import { nobleSignatureCheck, verifyEvent } from './verify.ts'
import {
  ALL_FIXTURES,
  COHOST,
  COHOST_PROOF,
  COORD,
  D_TAG,
  MASTER_URL,
  RELAY_URL,
  STREAMER,
  STREAMER_PROOF,
  T0,
  chatMessage,
  chatReply,
  foreignLiveEvent,
  liveEvent,
  plannedLiveEvent,
} from '../test/fixtures/events.ts'

const hex64 = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 })
/** Any well-formed text: ASCII, any grapheme (emoji, CJK, combining marks), or empty. */
const text = fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: 'grapheme', maxLength: 30 }))
const nonEmpty = text.filter((s) => s !== '')
const seconds = fc.integer({ min: 0, max: 2 ** 40 })

const arbLiveInput: fc.Arbitrary<LiveEventInput> = fc.record(
  {
    identifier: nonEmpty,
    title: text,
    summary: text,
    image: fc.webUrl(),
    category: text,
    tags: fc.array(text, { maxLength: 4 }),
    streaming: fc.webUrl().map((u) => `${u}/master.m3u8`),
    recording: fc.webUrl(),
    starts: seconds,
    ends: seconds,
    status: fc.constantFrom('planned', 'live', 'ended'),
    currentParticipants: fc.nat(),
    totalParticipants: fc.nat(),
    hosts: fc.array(
      fc.record(
        { pubkey: hex64, relay: nonEmpty, role: fc.oneof(fc.constantFrom('Host', 'host', 'Speaker'), nonEmpty), proof: hex64 },
        { requiredKeys: ['pubkey', 'role'] },
      ),
      { maxLength: 3 },
    ),
    relays: fc.array(nonEmpty, { maxLength: 3 }),
    chat: fc.boolean(),
    unlisted: fc.boolean(),
    slowMode: fc.integer({ min: 1, max: 3600 }),
  },
  { requiredKeys: ['identifier', 'status'] },
)

/** What the reader must give back: defaults filled in; tags without a category read as category first. */
function expected(input: LiveEventInput): LiveEvent {
  const topics = [...(input.category !== undefined ? [input.category] : []), ...(input.tags ?? [])]
  const out: LiveEvent = {
    ...input,
    tags: topics.slice(1),
    hosts: input.hosts ?? [],
    relays: input.relays ?? [],
    chat: input.chat ?? true,
    unlisted: input.unlisted ?? false,
  }
  delete out.category
  if (topics.length > 0) out.category = topics[0]
  return out
}

const wire = (e: NostrEvent): NostrEvent => JSON.parse(JSON.stringify(e))

/**
 * A template as it arrives from a relay: authored, hashed and shape-checked, through JSON.
 * Not signed (readers never check signatures, and signing 1000 times is slow on a busy box).
 */
function authored(t: EventTemplate, pubkey = STREAMER): NostrEvent {
  const e = { ...t, pubkey, id: '', sig: '0'.repeat(128) }
  e.id = getEventHash(e)
  expect(validateEventShape(e)).toBeUndefined()
  return wire(e)
}

describe('30311 live event', () => {
  it('invariant: getLiveEvent(buildLiveEvent(x)) equals x, through JSON, for any text and tags', () => {
    fc.assert(
      fc.property(arbLiveInput, seconds, (input, createdAt) => {
        const signed = authored(buildLiveEvent(input, createdAt))
        expect(signed.kind).toBe(KIND_LIVE_EVENT)
        expect(signed.created_at).toBe(createdAt)
        expect(getLiveEvent(signed)).toEqual(expected(input))
      }),
      { numRuns: 1000 },
    )
  })

  it('invariant: what the builder makes from a valid input passes the relay validation', () => {
    fc.assert(
      fc.property(arbLiveInput, (input) => {
        const hosts = input.hosts ?? []
        const relays = (input.relays ?? []).map((_, i) => `wss://relay${i}.example.com`)
        expect(validateLiveEvent(buildLiveEvent({ ...input, hosts, relays }, T0))).toBeUndefined()
      }),
      { numRuns: 1000 },
    )
  })

  it('writes the NIP-53 tags plus ours, category first', () => {
    const e = buildLiveEvent(
      { identifier: 'x', title: 'T', category: 'music', tags: ['synth'], status: 'live', chat: false, unlisted: true, relays: [RELAY_URL] },
      T0,
    )
    expect(e).toEqual({
      kind: KIND_LIVE_EVENT,
      created_at: T0,
      content: '',
      tags: [
        ['d', 'x'],
        ['title', 'T'],
        ['t', 'music'],
        ['t', 'synth'],
        ['status', 'live'],
        ['relays', RELAY_URL],
        ['chat', 'off'],
        ['visibility', 'unlisted'],
      ],
    })
  })

  it('reads the fixture live event, and rebuilding it gives the same tags', () => {
    const live = getLiveEvent(liveEvent)
    expect(live).toEqual({
      identifier: D_TAG,
      title: 'Friday synth jam 🎹 — modular & ambient',
      summary: 'Patching a Eurorack system live. Requests welcome in chat.',
      image: 'https://media.relaycast.test/images/friday-synth-jam.jpg',
      category: 'music',
      tags: ['synth', 'ambient'],
      streaming: MASTER_URL,
      starts: T0,
      status: 'live',
      currentParticipants: 12,
      totalParticipants: 40,
      hosts: [
        { pubkey: STREAMER, relay: RELAY_URL, role: 'Host', proof: STREAMER_PROOF },
        { pubkey: COHOST, role: 'Speaker', proof: COHOST_PROOF },
      ],
      relays: [RELAY_URL, 'wss://nos.lol'],
      chat: true,
      unlisted: false,
    })
    expect(buildLiveEvent(live!, liveEvent.created_at).tags).toEqual(liveEvent.tags)
    expect(buildLiveEvent(getLiveEvent(plannedLiveEvent)!, plannedLiveEvent.created_at).tags).toEqual(plannedLiveEvent.tags)
  })

  it('reads the planned fixture: chat off, unlisted', () => {
    expect(getLiveEvent(plannedLiveEvent)).toMatchObject({ status: 'planned', chat: false, unlisted: true, hosts: [{ pubkey: STREAMER, role: 'Host' }] })
  })

  it("tolerates another client's event: few tags, empty title, lowercase role", () => {
    const live = getLiveEvent(foreignLiveEvent)!
    expect(live).toEqual({
      identifier: '537a365c-f1ec-44ac-af10-22d14a7319fb',
      title: '',
      category: 'irl',
      tags: [],
      streaming: 'https://api.zap.stream/api/v1/live/537a365c/live.m3u8?token=abc',
      status: 'live',
      hosts: [{ pubkey: COHOST, role: 'host' }],
      relays: [],
      chat: true,
      unlisted: false,
    })
    expect(isHostRole(live.hosts[0].role)).toBe(true)
    expect(isHostRole('Speaker')).toBe(false)
    expect(validateLiveEvent(foreignLiveEvent)).toBeUndefined()
  })

  it('reads a missing or unknown status as ended, and skips unreadable numbers and p tags', () => {
    const e = (tags: string[][]): EventTemplate => ({ kind: KIND_LIVE_EVENT, created_at: T0, content: '', tags: [['d', 'x'], ...tags] })
    expect(getLiveEvent(e([]))).toEqual({ identifier: 'x', tags: [], status: 'ended', hosts: [], relays: [], chat: true, unlisted: false })
    expect(getLiveEvent(e([['status', 'LIVE']]))?.status).toBe('ended')
    expect(getLiveEvent(e([['starts', 'soon']]))?.starts).toBeUndefined()
    expect(getLiveEvent(e([['current_participants', '-3']]))?.currentParticipants).toBeUndefined()
    expect(getLiveEvent(e([['p', 'npub1abc', '', 'Host'], ['p', STREAMER]]))?.hosts).toEqual([{ pubkey: STREAMER, role: 'Participant' }])
    expect(getLiveEvent(e([['relays', RELAY_URL], ['relays', '', 'wss://b.test']]))?.relays).toEqual([RELAY_URL, 'wss://b.test'])
  })

  it('is undefined for another kind or a live event without d', () => {
    expect(getLiveEvent({ ...liveEvent, kind: KIND_TEXT_NOTE })).toBeUndefined()
    expect(getLiveEvent({ ...liveEvent, tags: liveEvent.tags.filter((t) => t[0] !== 'd') })).toBeUndefined()
  })

  it('invariant: getLiveEvent never throws, whatever the tags', () => {
    const tag = fc.array(fc.oneof(fc.constantFrom('d', 't', 'p', 'status', 'starts', 'relays', 'chat', 'visibility'), fc.string()), { maxLength: 5 })
    fc.assert(
      fc.property(fc.array(tag, { maxLength: 10 }), (tags) => {
        const live = getLiveEvent({ kind: KIND_LIVE_EVENT, created_at: T0, content: '', tags })
        if (live) expect(['planned', 'live', 'ended']).toContain(live.status)
      }),
      { numRuns: 1000 },
    )
  })
})

describe('isLiveNow', () => {
  const live = (createdAt: number, status = 'live'): EventTemplate => ({ kind: KIND_LIVE_EVENT, created_at: createdAt, content: '', tags: [['d', 'x'], ['status', status]] })

  it('is live while the author updated it within the window, inclusive', () => {
    expect(isLiveNow(live(T0), { now: T0 })).toBe(true)
    expect(isLiveNow(live(T0), { now: T0 + 3600 })).toBe(true)
    expect(isLiveNow(live(T0), { now: T0 + 3601 })).toBe(false)
    expect(isLiveNow(live(T0), { now: T0 + 60, freshnessWindow: 60 })).toBe(true)
    expect(isLiveNow(live(T0), { now: T0 + 61, freshnessWindow: 60 })).toBe(false)
  })

  it('a service 31337 saying live within 2 minutes keeps a stale event live', () => {
    const now = T0 + 7200
    expect(isLiveNow(live(T0), { now, lastServiceLiveAt: now - 120 })).toBe(true)
    expect(isLiveNow(live(T0), { now, lastServiceLiveAt: now - 121 })).toBe(false)
    expect(isLiveNow(live(T0), { now, lastServiceLiveAt: now - 30, serviceWindow: 30 })).toBe(true)
    expect(isLiveNow(live(T0), { now, lastServiceLiveAt: now - 31, serviceWindow: 30 })).toBe(false)
  })

  it('never counts planned, ended, other kinds or a missing status as live', () => {
    for (const status of ['planned', 'ended', 'LIVE']) {
      expect(isLiveNow(live(T0, status), { now: T0, lastServiceLiveAt: T0 })).toBe(false)
    }
    expect(isLiveNow({ ...live(T0), tags: [['d', 'x']] }, { now: T0 })).toBe(false)
    expect(isLiveNow({ ...live(T0), kind: KIND_TEXT_NOTE }, { now: T0 })).toBe(false)
  })

  it('the fixture is live at its own time and stale two hours later', () => {
    expect(isLiveNow(liveEvent, { now: liveEvent.created_at + 10 })).toBe(true)
    expect(isLiveNow(liveEvent, { now: liveEvent.created_at + 7200 })).toBe(false)
  })
})

describe('validateLiveEvent', () => {
  const withTags = (tags: string[][]): EventTemplate => ({ ...liveEvent, tags })
  const replace = (name: string, ...tag: string[]): EventTemplate => withTags([...liveEvent.tags.filter((t) => t[0] !== name), [name, ...tag]])

  it('accepts the fixtures', () => {
    expect(validateLiveEvent(liveEvent)).toBeUndefined()
    expect(validateLiveEvent(plannedLiveEvent)).toBeUndefined()
  })

  it('refuses with specific invalid: reasons', () => {
    expect(validateLiveEvent(withTags(liveEvent.tags.filter((t) => t[0] !== 'd')))).toBe('invalid: live event needs a non-empty d tag')
    expect(validateLiveEvent(replace('d', ''))).toMatch(/^invalid: .*non-empty d/)
    expect(validateLiveEvent(replace('status', 'LIVE'))).toMatch(/^invalid: live event status must be planned, live or ended, not "LIVE"/)
    expect(validateLiveEvent(withTags([...liveEvent.tags, ['status', 'ended']]))).toMatch(/^invalid: .*more than one status/)
    expect(validateLiveEvent(replace('streaming', 'https://cdn.test/video.mp4'))).toMatch(/^invalid: streaming must be .*\.m3u8/)
    expect(validateLiveEvent(replace('streaming', 'rtmp://cdn.test/live.m3u8'))).toMatch(/^invalid: streaming/)
    expect(validateLiveEvent(replace('streaming', 'not a url'))).toMatch(/^invalid: streaming/)
    expect(validateLiveEvent(replace('starts', 'tomorrow'))).toMatch(/^invalid: starts must be a non-negative integer/)
    expect(validateLiveEvent(replace('current_participants', '1.5'))).toMatch(/^invalid: current_participants/)
    expect(validateLiveEvent(replace('p', 'npub1xyz', '', 'Host'))).toMatch(/^invalid: p tag pubkey/)
    expect(validateLiveEvent(replace('relays', 'https://relay.test'))).toMatch(/^invalid: relays tag/)
  })

  it('accepts an HLS URL with a query string, and leaves other kinds to other policies', () => {
    expect(validateLiveEvent(replace('streaming', 'https://cdn.test/live.m3u8?token=1'))).toBeUndefined()
    expect(validateLiveEvent({ kind: KIND_TEXT_NOTE, created_at: T0, tags: [], content: '' })).toBeUndefined()
  })
})

describe('1311 chat', () => {
  const coordinate = parseCoordinate(COORD)
  const arbChat: fc.Arbitrary<ChatMessageInput> = fc.record(
    {
      coordinate: fc.constant(coordinate),
      relay: fc.oneof(fc.constant(''), fc.constant(RELAY_URL)),
      content: text,
      replyTo: fc.record({ id: hex64, relay: nonEmpty }, { requiredKeys: ['id'] }),
      quote: fc.record({ ref: fc.oneof(hex64, fc.constant(COORD)), relay: nonEmpty, pubkey: hex64 }, { requiredKeys: ['ref'] }),
    },
    { requiredKeys: ['coordinate', 'relay', 'content'] },
  )

  it('invariant: getChatMessage(buildChatMessage(x)) equals x, through JSON', () => {
    fc.assert(
      fc.property(arbChat, (input) => {
        const signed = authored(buildChatMessage(input, T0))
        const { relay, ...rest } = input
        expect(getChatMessage(signed)).toEqual(relay === '' ? rest : input)
      }),
      { numRuns: 1000 },
    )
  })

  it('builds the fixture reply exactly', () => {
    const built = buildChatMessage(
      { coordinate, relay: RELAY_URL, content: chatReply.content, replyTo: { id: chatMessage.id, relay: RELAY_URL }, quote: { ref: chatMessage.id, relay: RELAY_URL, pubkey: chatMessage.pubkey } },
      chatReply.created_at,
    )
    expect(built).toEqual({ kind: KIND_LIVE_CHAT, created_at: chatReply.created_at, tags: chatReply.tags, content: chatReply.content })
  })

  it('finds the live event a chat belongs to, preferring the root-marked a tag', () => {
    expect(getChatTarget(chatMessage)).toEqual({ coordinate, relay: RELAY_URL })
    const other = `${KIND_LIVE_EVENT}:${COHOST}:other`
    const e = { ...chatMessage, tags: [['a', `30023:${COHOST}:article`], ['a', other], ['a', COORD, '', 'root']] }
    expect(getChatTarget(e)).toEqual({ coordinate })
    expect(getChatTarget({ ...e, tags: e.tags.slice(0, 2) })).toEqual({ coordinate: parseCoordinate(other) })
  })

  it('is undefined for chat without a 30311 a tag, or for another kind', () => {
    expect(getChatTarget({ ...chatMessage, tags: [['a', `30023:${COHOST}:article`]] })).toBeUndefined()
    expect(getChatTarget({ ...chatMessage, tags: [['a', 'garbage']] })).toBeUndefined()
    expect(getChatTarget({ ...chatMessage, kind: KIND_TEXT_NOTE })).toBeUndefined()
    expect(getChatMessage({ ...chatMessage, tags: [] })).toBeUndefined()
  })
})

describe('fixtures', () => {
  it('every fixture is a genuine signed event (shape, id, signature)', () => {
    for (const [name, e] of Object.entries(ALL_FIXTURES)) {
      expect([name, verifyEvent(wire(e), nobleSignatureCheck)]).toEqual([name, true])
    }
  })
})
