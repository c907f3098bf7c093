/**
 * Shared fast-check arbitraries for events and filters. Values come from small pools (four
 * authors, a few ids, d-tags, hashtags, statuses, an eleven-second window of created_at) so
 * that filters actually match, replaceable addresses collide and since/until land on events.
 * Isomorphic (protocol tests import it under Deno too): no node:* imports.
 */
import fc from 'fast-check'
import { finalizeEvent, getEventHash, getPublicKey } from 'nostr-tools/pure'
import {
  KIND_AUTH,
  KIND_CONTACTS,
  KIND_DELETION,
  KIND_JOB_FEEDBACK,
  KIND_LIVE_CHAT,
  KIND_LIVE_EVENT,
  KIND_METADATA,
  KIND_MUTE_LIST,
  KIND_PRESENCE,
  KIND_SERVICE_METRICS,
  KIND_TEXT_NOTE,
} from '../protocol/kinds.ts'
import type { EventTemplate, Filter, NostrEvent } from '../protocol/types.ts'

/** Fixed secret keys 1..4, so runs are reproducible; `pubkey` is derived from each. */
export const TEST_KEYS: readonly { secretKey: Uint8Array; pubkey: string }[] = [1, 2, 3, 4].map((n) => {
  const secretKey = new Uint8Array(32)
  secretKey[31] = n
  return { secretKey, pubkey: getPublicKey(secretKey) }
})
export const PUBKEY_POOL: readonly string[] = TEST_KEYS.map((k) => k.pubkey)
/** Ids for `e` tags and `ids` filters that are not tied to a generated event. */
export const ID_POOL: readonly string[] = ['0', '1', '7', 'a', 'f'].map((c) => c.repeat(64))
export const KIND_POOL: readonly number[] = [
  KIND_METADATA,
  KIND_TEXT_NOTE,
  KIND_CONTACTS,
  KIND_DELETION,
  KIND_LIVE_CHAT,
  KIND_JOB_FEEDBACK,
  KIND_MUTE_LIST,
  KIND_PRESENCE,
  KIND_AUTH,
  KIND_LIVE_EVENT,
  KIND_SERVICE_METRICS,
]
export const D_POOL: readonly string[] = ['', 'stream-1', 'stream-2']
export const HASHTAG_POOL: readonly string[] = ['music', 'gaming', 'irl', 'Music']
export const STATUS_POOL: readonly string[] = ['planned', 'live', 'ended']
/** created_at of every generated event lies in [BASE_TIME, BASE_TIME + TIME_SPAN]. */
export const BASE_TIME = 1_700_000_000
export const TIME_SPAN = 10
const RELAY_URL = 'wss://relay.example.com'
/** Generated events are hashed, not signed: use arbSignedEvent where signatures are checked. */
export const PLACEHOLDER_SIG = '0'.repeat(128)

const HEX_DIGITS = [...'0123456789abcdef']

export const arbPubkey: fc.Arbitrary<string> = fc.constantFrom(...PUBKEY_POOL)
export const arbId: fc.Arbitrary<string> = fc.constantFrom(...ID_POOL)
/** Any 64-char lowercase hex, mostly from the pools so collisions happen. */
export const arbHex64: fc.Arbitrary<string> = fc.oneof(
  arbId,
  arbPubkey,
  fc.string({ unit: fc.constantFrom(...HEX_DIGITS), minLength: 64, maxLength: 64 }),
)
export const arbKind: fc.Arbitrary<number> = fc.oneof(
  { arbitrary: fc.constantFrom(...KIND_POOL), weight: 9 },
  { arbitrary: fc.integer({ min: 0, max: 65535 }), weight: 1 },
)
export const arbCreatedAt: fc.Arbitrary<number> = fc.integer({ min: BASE_TIME, max: BASE_TIME + TIME_SPAN })
export const arbD: fc.Arbitrary<string> = fc.constantFrom(...D_POOL)
/** `<kind>:<pubkey>:<d>`, mostly a 30311 live event. */
export const arbCoordinate: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom(KIND_LIVE_EVENT, KIND_LIVE_EVENT, KIND_SERVICE_METRICS), arbPubkey, arbD)
  .map(([kind, pubkey, d]) => `${kind}:${pubkey}:${d}`)

/** A fresh empty array each time, so no two generated values share a mutable array. */
const empty = <T>(): fc.Arbitrary<T[]> => fc.constant(null).map(() => [])
const optional = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T[]> => fc.oneof(empty<T>(), arb.map((v) => [v]))

/** One tag: a/p/e/d/t/status as NIP-01 and NIP-53 use them, plus the odd shapes matching must survive. */
export const arbTag: fc.Arbitrary<string[]> = fc.oneof(
  fc.tuple(arbId, optional(fc.constant(RELAY_URL)), optional(fc.constantFrom('root', 'reply'))).map(
    ([id, relay, marker]) => ['e', id, ...(marker.length ? [relay[0] ?? '', ...marker] : relay)],
  ),
  arbPubkey.map((p) => ['p', p]),
  fc.tuple(arbCoordinate, optional(fc.constant(RELAY_URL))).map(([a, relay]) => ['a', a, ...relay]),
  arbD.map((d) => ['d', d]),
  fc.constantFrom(...HASHTAG_POOL).map((t) => ['t', t]),
  fc.constantFrom(...STATUS_POOL).map((s) => ['status', s]),
  // Shapes a matcher must not trip on: no value, an upper-case name, a long name, an empty value.
  fc
    .constantFrom<string[]>(['t'], ['status'], ['T', 'music'], ['E', ID_POOL[0]], ['title', 'live'], ['t', ''])
    .map((tag) => [...tag]),
)

export const arbTags: fc.Arbitrary<string[][]> = fc.array(arbTag, { maxLength: 6 })
export const arbContent: fc.Arbitrary<string> = fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 10 }))

export interface EventOptions {
  /** Kinds to pick from (default: the kind pool, sometimes any kind). */
  kinds?: readonly number[]
  /** Tags to use instead of arbTags, e.g. `e` tags pointing at other generated events. */
  tags?: fc.Arbitrary<string[][]>
}

export function arbEventTemplate(options: EventOptions = {}): fc.Arbitrary<EventTemplate> {
  return fc.record({
    kind: options.kinds ? fc.constantFrom(...options.kinds) : arbKind,
    tags: options.tags ?? arbTags,
    content: arbContent,
    created_at: arbCreatedAt,
  })
}

/** An event with its true id (sha256) but PLACEHOLDER_SIG: distinct events never share an id. */
export function arbEvent(options: EventOptions = {}): fc.Arbitrary<NostrEvent> {
  return fc.tuple(arbEventTemplate(options), arbPubkey).map(([template, pubkey]) => {
    const unsigned = { ...template, pubkey }
    return { ...unsigned, id: getEventHash(unsigned), sig: PLACEHOLDER_SIG }
  })
}

/** A genuinely signed event by one of TEST_KEYS. Schnorr signing costs ~1 ms: use fewer runs. */
export function arbSignedEvent(options: EventOptions = {}): fc.Arbitrary<NostrEvent> {
  return fc.tuple(arbEventTemplate(options), fc.constantFrom(...TEST_KEYS)).map(([template, key]) => {
    const { id, pubkey, sig, kind, tags, content, created_at } = finalizeEvent(template, key.secretKey)
    return { id, pubkey, created_at, kind, tags, content, sig } // drop nostr-tools' verified marker
  })
}

/** A batch of events in random order, some sent twice (exact duplicates, as clients resend). */
export function arbEvents(options: EventOptions & { maxLength?: number } = {}): fc.Arbitrary<NostrEvent[]> {
  return fc.array(arbEvent(options), { maxLength: options.maxLength ?? 20 }).chain((events) => {
    if (events.length === 0) return fc.constant(events)
    return fc
      .array(fc.constantFrom(...events), { maxLength: 2 })
      .chain((again) => fc.shuffledSubarray([...events, ...again], { minLength: events.length + again.length }))
  })
}

const TAG_FILTER_POOLS: Record<string, readonly string[]> = {
  e: ID_POOL,
  p: PUBKEY_POOL,
  a: [`${KIND_LIVE_EVENT}:${PUBKEY_POOL[0]}:${D_POOL[1]}`],
  d: D_POOL,
  t: HASHTAG_POOL,
  status: STATUS_POOL,
}

/**
 * A filter of up to four conditions whose values come from the pools and from `events`
 * (their ids, authors, kinds and tag values), so they match some of those events. Lists are
 * occasionally empty (never matches) and since/until straddle the created_at window.
 */
export function arbFilter(events: readonly NostrEvent[] = []): fc.Arbitrary<Filter> {
  const list = <T>(values: readonly T[]): fc.Arbitrary<T[]> =>
    fc.oneof(
      { arbitrary: fc.array(fc.constantFrom(...values), { minLength: 1, maxLength: 3 }), weight: 9 },
      { arbitrary: empty<T>(), weight: 1 },
    )
  const time = fc.integer({ min: BASE_TIME - 1, max: BASE_TIME + TIME_SPAN + 1 })
  const parts: Record<string, fc.Arbitrary<unknown>> = {
    ids: list([...ID_POOL, ...events.map((e) => e.id)]),
    authors: list(PUBKEY_POOL),
    kinds: list([...KIND_POOL, ...events.map((e) => e.kind)]),
    since: time,
    until: time,
    limit: fc.integer({ min: 0, max: 5 }),
  }
  for (const [name, pool] of Object.entries(TAG_FILTER_POOLS)) {
    const seen = events.flatMap((e) => e.tags.filter((t) => t[0] === name && t.length > 1).map((t) => t[1]))
    parts[`#${name}`] = list([...pool, ...seen])
  }
  return fc
    .subarray(Object.keys(parts), { maxLength: 4 })
    .chain((keys) => fc.record(Object.fromEntries(keys.map((k) => [k, parts[k]])))) as fc.Arbitrary<Filter>
}

/** Events and filters drawn from them: the input of every "store ≡ reference" property. */
export const arbEventsAndFilters: fc.Arbitrary<{ events: NostrEvent[]; filters: Filter[] }> = arbEvents().chain(
  (events) => fc.record({ events: fc.constant(events), filters: fc.array(arbFilter(events), { minLength: 1, maxLength: 3 }) }),
)
