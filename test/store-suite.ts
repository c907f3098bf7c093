/**
 * The Store conformance suite: every Store (the in-memory reference, the relay's LMDB store, a
 * client cache) runs these same tests, so they all answer alike. Expected results are worked
 * out here from the NIP rules directly, not by asking another store.
 *
 * Usage, in a test file:
 *   describeStoreConformance('lmdb store', async ({ now }) => openStore({ now, path }))
 *   describeLiveStoreConformance('lmdb store', …)   // for stores that also implement `req`
 *
 * Only describe/it/expect are used, so it also runs under Deno (test/deno-vitest.ts).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compareEvents, matchFilter } from '../protocol/filter.ts'
import {
  KIND_DELETION,
  KIND_LIVE_CHAT,
  KIND_LIVE_EVENT,
  KIND_METADATA,
  KIND_MUTE_LIST,
  KIND_SERVICE_METRICS,
  KIND_TEXT_NOTE,
} from '../protocol/kinds.ts'
import type { LiveStore, ReqMessage, Store, WriteResult } from '../protocol/store.ts'
import type { Clock, Filter, NostrEvent } from '../protocol/types.ts'
import { arbEventsAndFilters } from './arbitraries.ts'

export type Closable = { close?(): Promise<void> }
export type MakeStore<S> = (opts: { now: Clock }) => Promise<S & Closable>
export interface ConformanceOptions {
  /** Runs per property; 1000 unless a store is too slow to open that often. */
  numRuns?: number
}

/** Fixture times: events are created around T0; the suite's clock starts a little later. */
export const T0 = 1_700_000_000
export const ALICE = 'a1'.repeat(32)
export const BOB = 'b2'.repeat(32)
export const CAROL = 'c3'.repeat(32)
const EPHEMERAL_KIND = 20001

export const hex64 = (n: number): string => n.toString(16).padStart(64, '0')

let sequence = 0
/**
 * A fake event with correct-looking hex (stores do not verify signatures). Ids default to a
 * fresh unique value; give one explicitly when the tie-break order matters.
 */
export function fakeEvent(fields: Partial<NostrEvent> = {}): NostrEvent {
  return {
    id: hex64(0x100000 + ++sequence),
    pubkey: ALICE,
    created_at: T0,
    kind: KIND_TEXT_NOTE,
    tags: [],
    content: '',
    sig: '0'.repeat(128),
    ...fields,
  }
}

const DUPLICATE = 'duplicate: already have this event'
const OLDER_VERSION = 'duplicate: have a newer version of this replaceable event'
const DELETED = 'blocked: deleted by its author'
const EXPIRED = 'invalid: event has expired'

/** A clock the test moves by hand. */
function manualClock(start = T0 + 100) {
  let t = start
  return { now: () => t, set: (s: number) => void (t = s) }
}

const ids = (events: NostrEvent[]): string[] => events.map((e) => e.id)
const sorted = (events: NostrEvent[]): NostrEvent[] => [...events].sort(compareEvents)

/** A stored-and-accepted result, whatever it removed. */
function expectStored(r: WriteResult): string[] {
  expect(r).toMatchObject({ ok: true, stored: true })
  return r.ok ? r.removed : []
}

// ---------------------------------------------------------------------------------------------
// Arbitraries. Ids are a random prefix plus the event's index, so they are unique and randomly
// ordered; created_at values are few, so ties (decided by id) are common.

const arbIdPrefix = fc.stringMatching(/^[0-9a-f]{60}$/)
const withId = (prefix: string, i: number): string => prefix + i.toString(16).padStart(4, '0')
const AUTHORS = [ALICE, BOB, CAROL]
const REPLACEABLE_KINDS = [KIND_METADATA, KIND_MUTE_LIST]
const ADDRESSABLE_KINDS = [KIND_LIVE_EVENT, KIND_SERVICE_METRICS]
const D_VALUES = ['', 'one', 'two:with:colons']

// NIP-01 kind ranges and addresses, worked out here independently of protocol/.
const isEphemeral = (kind: number): boolean => kind >= 20000 && kind < 30000
function addressOf(e: NostrEvent): string | undefined {
  if (e.kind === 0 || e.kind === 3 || (e.kind >= 10000 && e.kind < 20000)) return `${e.kind}:${e.pubkey}:`
  if (e.kind >= 30000 && e.kind < 40000) return `${e.kind}:${e.pubkey}:${e.tags.find((t) => t[0] === 'd')?.[1] ?? ''}`
  return undefined
}

const ALL_ADDRESSES = AUTHORS.flatMap((pk) => [
  ...REPLACEABLE_KINDS.map((k) => `${k}:${pk}:`),
  ...ADDRESSABLE_KINDS.flatMap((k) => D_VALUES.map((d) => `${k}:${pk}:${d}`)),
])

interface VersionSpec {
  prefix: string
  pubkey: string
  kind: number
  d: string
  /** No d tag at all (the empty d), one d tag, or a second d tag that must be ignored. */
  dStyle: 'tag' | 'none' | 'extra'
  created_at: number
}

const arbVersion: fc.Arbitrary<VersionSpec> = fc.record({
  prefix: arbIdPrefix,
  pubkey: fc.constantFrom(...AUTHORS),
  kind: fc.constantFrom(...REPLACEABLE_KINDS, ...ADDRESSABLE_KINDS),
  d: fc.constantFrom(...D_VALUES),
  dStyle: fc.constantFrom('tag' as const, 'none' as const, 'extra' as const),
  created_at: fc.integer({ min: 0, max: 6 }),
})

function buildVersion(v: VersionSpec, i: number): NostrEvent {
  const tags = v.dStyle === 'none' ? [] : v.dStyle === 'extra' ? [['d', v.d], ['d', 'ignored']] : [['d', v.d]]
  return fakeEvent({ id: withId(v.prefix, i), pubkey: v.pubkey, kind: v.kind, tags, created_at: T0 + v.created_at })
}

interface DeletionSpec {
  prefix: string
  pubkey: string
  created_at: number
  /** Coordinates (any author's: another author's must have no effect). */
  addresses: string[]
  /** Indexes into the scenario's non-deletion events, deleted by `e`. */
  targets: number[]
}

const arbDeletion = (withE: boolean, withA: boolean): fc.Arbitrary<DeletionSpec> =>
  fc.record({
    prefix: arbIdPrefix,
    pubkey: fc.constantFrom(...AUTHORS),
    created_at: fc.integer({ min: 0, max: 6 }),
    addresses: withA ? fc.subarray(ALL_ADDRESSES, { maxLength: 4 }) : fc.constant([]),
    targets: withE ? fc.array(fc.nat({ max: 40 }), { maxLength: 3 }) : fc.constant([]),
  })

function buildDeletion(spec: DeletionSpec, i: number, others: NostrEvent[]): NostrEvent {
  const eTargets = others.length ? spec.targets.map((t) => others[t % others.length].id) : []
  return fakeEvent({
    id: withId(spec.prefix, i),
    pubkey: spec.pubkey,
    kind: KIND_DELETION,
    created_at: T0 + spec.created_at,
    tags: [...eTargets.map((id) => ['e', id]), ...spec.addresses.map((a) => ['a', a])],
  })
}

/** NIP-09 worked out directly: same author; by id; or by address up to the deletion's time. */
function deletes(del: NostrEvent, target: NostrEvent): boolean {
  if (target.kind === KIND_DELETION || del.pubkey !== target.pubkey) return false
  if (del.tags.some((t) => t[0] === 'e' && t[1] === target.id)) return true
  const address = addressOf(target)
  return target.created_at <= del.created_at && del.tags.some((t) => t[0] === 'a' && t[1] === address)
}

interface Scenario {
  events: NostrEvent[]
  deletions: NostrEvent[]
  /** Everything, in the order it is written. */
  order: NostrEvent[]
}

function arbScenario(arbEvents: fc.Arbitrary<NostrEvent[]>, arbDel: fc.Arbitrary<DeletionSpec>, maxDeletions: number) {
  return fc
    .tuple(arbEvents, fc.array(arbDel, { maxLength: maxDeletions }))
    .map(([events, specs]) => ({ events, deletions: specs.map((s, i) => buildDeletion(s, events.length + i, events)) }))
    .chain(({ events, deletions }) =>
      fc
        .shuffledSubarray([...events, ...deletions], { minLength: events.length + deletions.length })
        .map((order): Scenario => ({ events, deletions, order })),
    )
}

const arbVersions = fc.array(arbVersion, { maxLength: 14 }).map((vs) => vs.map(buildVersion))

const arbRegular = fc
  .array(
    fc.record({ prefix: arbIdPrefix, pubkey: fc.constantFrom(...AUTHORS), kind: fc.constantFrom(KIND_TEXT_NOTE, KIND_LIVE_CHAT), created_at: fc.integer({ min: 0, max: 6 }) }),
    { maxLength: 12 },
  )
  .map((rs) => rs.map((r, i) => fakeEvent({ id: withId(r.prefix, i), pubkey: r.pubkey, kind: r.kind, created_at: T0 + r.created_at })))

/** What must be stored after writing these events, deletions aside: regular ones and one winner per address. */
function expectedAfterReplacement(events: NostrEvent[]): NostrEvent[] {
  const winners = new Map<string, NostrEvent>()
  const out: NostrEvent[] = []
  for (const e of sorted(events)) {
    const address = addressOf(e)
    if (address === undefined) out.push(e)
    else if (!winners.has(address)) winners.set(address, e) // sorted: the first seen is newest, lowest id
  }
  return sorted([...out, ...winners.values()])
}

/** Writes in order, checks that `removed` and `stored` account for every change, returns results. */
async function writeAll(store: Store, order: NostrEvent[], concurrently = false): Promise<WriteResult[]> {
  const results = concurrently ? await Promise.all(order.map((e) => store.event(e))) : []
  if (!concurrently) for (const e of order) results.push(await store.event(e))
  const model = new Set<string>()
  // Concurrent writes may apply in any order, so the model only holds for sequential ones.
  if (!concurrently) {
    order.forEach((e, i) => {
      const r = results[i]
      if (!r.ok) return
      for (const id of r.removed) model.delete(id)
      if (r.stored) model.add(e.id)
    })
    expect([...model].sort()).toEqual(ids(await store.query([{}])).sort())
  }
  return results
}

// ---------------------------------------------------------------------------------------------

export function describeStoreConformance(name: string, makeStore: MakeStore<Store>, options: ConformanceOptions = {}): void {
  const numRuns = options.numRuns ?? 1000

  async function withStore<T>(fn: (store: Store, clock: ReturnType<typeof manualClock>) => Promise<T>): Promise<T> {
    const clock = manualClock()
    const store = await makeStore({ now: clock.now })
    try {
      return await fn(store, clock)
    } finally {
      await store.close?.()
    }
  }

  describe(`${name}: Store conformance`, () => {
    describe('writes', () => {
      it('stores a new event and returns it from query', () =>
        withStore(async (store) => {
          const e = fakeEvent()
          expect(await store.event(e)).toEqual({ ok: true, stored: true, reason: '', removed: [] })
          expect(await store.query([{ ids: [e.id] }])).toEqual([e])
        }))

      it('accepts an exact duplicate without storing it again', () =>
        withStore(async (store) => {
          const e = fakeEvent()
          await store.event(e)
          expect(await store.event(e)).toEqual({ ok: true, stored: false, reason: DUPLICATE, removed: [] })
          expect(await store.count([{}])).toBe(1)
        }))

      it('accepts an ephemeral event without storing it', () =>
        withStore(async (store) => {
          const e = fakeEvent({ kind: EPHEMERAL_KIND })
          expect(await store.event(e)).toMatchObject({ ok: true, stored: false, removed: [] })
          expect(await store.query([{}])).toEqual([])
          expect(await store.event(e)).toMatchObject({ ok: true, stored: false })
        }))

      it('rejects a write whose signal has already aborted', () =>
        withStore(async (store) => {
          const controller = new AbortController()
          controller.abort()
          await expect(store.event(fakeEvent(), { signal: controller.signal })).rejects.toBeDefined()
          await expect(store.query([{}], { signal: controller.signal })).rejects.toBeDefined()
          await expect(store.count([{}], { signal: controller.signal })).rejects.toBeDefined()
        }))
    })

    describe('replaceable and addressable events (NIP-01)', () => {
      it('a newer version replaces the stored one and reports it removed', () =>
        withStore(async (store) => {
          const v1 = fakeEvent({ kind: KIND_METADATA, created_at: T0 })
          const v2 = fakeEvent({ kind: KIND_METADATA, created_at: T0 + 1 })
          expectStored(await store.event(v1))
          expect(expectStored(await store.event(v2))).toEqual([v1.id])
          expect(await store.query([{ kinds: [KIND_METADATA] }])).toEqual([v2])
        }))

      it('an older version is refused as a duplicate', () =>
        withStore(async (store) => {
          const v2 = fakeEvent({ kind: KIND_MUTE_LIST, created_at: T0 + 1 })
          await store.event(v2)
          expect(await store.event(fakeEvent({ kind: KIND_MUTE_LIST, created_at: T0 }))).toEqual({ ok: false, reason: OLDER_VERSION })
          expect(await store.query([{}])).toEqual([v2])
        }))

      it('on a created_at tie the lowest id wins, in either order', () =>
        withStore(async (store) => {
          const low = fakeEvent({ id: hex64(1), kind: KIND_METADATA })
          const high = fakeEvent({ id: hex64(2), kind: KIND_METADATA })
          await store.event(high)
          expect(expectStored(await store.event(low))).toEqual([high.id])
          expect(await store.event(high)).toEqual({ ok: false, reason: OLDER_VERSION })
          expect(await store.query([{}])).toEqual([low])
        }))

      it('addressable events replace per d tag, a missing d being the empty d', () =>
        withStore(async (store) => {
          const a1 = fakeEvent({ kind: KIND_LIVE_EVENT, tags: [['d', 'a']], created_at: T0 })
          const b1 = fakeEvent({ kind: KIND_LIVE_EVENT, tags: [['d', 'b']], created_at: T0 })
          const noD = fakeEvent({ kind: KIND_LIVE_EVENT, tags: [], created_at: T0 })
          const emptyD = fakeEvent({ kind: KIND_LIVE_EVENT, tags: [['d', '']], created_at: T0 + 1 })
          const a2 = fakeEvent({ kind: KIND_LIVE_EVENT, tags: [['d', 'a']], created_at: T0 + 2 })
          for (const e of [a1, b1, noD]) expectStored(await store.event(e))
          expect(expectStored(await store.event(emptyD))).toEqual([noD.id])
          expect(expectStored(await store.event(a2))).toEqual([a1.id])
          expect(await store.query([{}])).toEqual(sorted([b1, emptyD, a2]))
        }))

      it('different authors and kinds never replace each other', () =>
        withStore(async (store) => {
          const events = [
            fakeEvent({ kind: KIND_METADATA, pubkey: ALICE }),
            fakeEvent({ kind: KIND_METADATA, pubkey: BOB }),
            fakeEvent({ kind: KIND_MUTE_LIST, pubkey: ALICE }),
            fakeEvent({ kind: KIND_LIVE_EVENT, pubkey: ALICE, tags: [['d', 'x']] }),
            fakeEvent({ kind: KIND_SERVICE_METRICS, pubkey: ALICE, tags: [['d', 'x']] }),
          ]
          for (const e of events) expectStored(await store.event(e))
          expect(await store.count([{}])).toBe(events.length)
        }))

      it('invariant: whatever the write order, exactly one event per address and it is the winner of all versions not deleted', async () => {
        await fc.assert(
          fc.asyncProperty(arbScenario(arbVersions, arbDeletion(false, true), 4), ({ events, deletions, order }) =>
            withStore(async (store) => {
              await writeAll(store, order)
              const alive = events.filter((v) => !deletions.some((d) => deletes(d, v)))
              expect(ids(await store.query([{ kinds: [...REPLACEABLE_KINDS, ...ADDRESSABLE_KINDS] }]))).toEqual(ids(expectedAfterReplacement(alive)))
              expect(ids(await store.query([{ kinds: [KIND_DELETION] }]))).toEqual(ids(sorted(deletions)))
            }),
          ),
          { numRuns },
        )
      })

      it('invariant: concurrent writes end in the same state as sequential ones', async () => {
        await fc.assert(
          fc.asyncProperty(arbScenario(arbVersions, arbDeletion(false, true), 4), ({ events, deletions, order }) =>
            withStore(async (store) => {
              const results = await writeAll(store, order, true)
              expect(results.every((r) => r.ok || r.reason === OLDER_VERSION || r.reason === DELETED)).toBe(true)
              const alive = events.filter((v) => !deletions.some((d) => deletes(d, v)))
              expect(ids(await store.query([{}]))).toEqual(ids(sorted([...expectedAfterReplacement(alive), ...deletions])))
            }),
          ),
          { numRuns },
        )
      })
    })

    describe('deletion (NIP-09)', () => {
      it('an e deletion removes the author’s event and reports it removed', () =>
        withStore(async (store) => {
          const note = fakeEvent()
          const del = fakeEvent({ kind: KIND_DELETION, tags: [['e', note.id]], created_at: T0 + 1 })
          await store.event(note)
          expect(expectStored(await store.event(del))).toEqual([note.id])
          expect(await store.query([{}])).toEqual([del])
        }))

      it('an event deleted earlier is refused, also when it arrives after its deletion', () =>
        withStore(async (store) => {
          const note = fakeEvent()
          const late = fakeEvent()
          const del = fakeEvent({ kind: KIND_DELETION, tags: [['e', note.id], ['e', late.id]], created_at: T0 - 50 })
          await store.event(note)
          expectStored(await store.event(del))
          expect(await store.event(note)).toEqual({ ok: false, reason: DELETED })
          expect(await store.event(late)).toEqual({ ok: false, reason: DELETED })
          expect(await store.count([{}])).toBe(1)
        }))

      it('a deletion by someone else has no effect', () =>
        withStore(async (store) => {
          const note = fakeEvent({ pubkey: ALICE })
          const later = fakeEvent({ pubkey: ALICE })
          const show = fakeEvent({ pubkey: ALICE, kind: KIND_LIVE_EVENT, tags: [['d', 's']] })
          await store.event(note)
          await store.event(show)
          const del = fakeEvent({
            pubkey: BOB,
            kind: KIND_DELETION,
            created_at: T0 + 10,
            tags: [['e', note.id], ['e', later.id], ['a', `${KIND_LIVE_EVENT}:${ALICE}:s`]],
          })
          expect(await store.event(del)).toEqual({ ok: true, stored: true, reason: '', removed: [] })
          expectStored(await store.event(later))
          expect(await store.count([{ authors: [ALICE] }])).toBe(3)
        }))

      it('an a deletion removes versions up to its created_at and blocks older ones, not newer ones', () =>
        withStore(async (store) => {
          const coordinate = `${KIND_LIVE_EVENT}:${ALICE}:show`
          const version = (dt: number) => fakeEvent({ kind: KIND_LIVE_EVENT, tags: [['d', 'show']], created_at: T0 + dt })
          const v10 = version(10)
          await store.event(v10)
          const del = fakeEvent({ kind: KIND_DELETION, tags: [['a', coordinate]], created_at: T0 + 10 })
          expect(expectStored(await store.event(del))).toEqual([v10.id])
          expect(await store.event(version(5))).toEqual({ ok: false, reason: DELETED })
          expect(await store.event(version(10))).toEqual({ ok: false, reason: DELETED })
          const v11 = version(11)
          expectStored(await store.event(v11))
          expect(await store.query([{ kinds: [KIND_LIVE_EVENT] }])).toEqual([v11])
        }))

      it('an a deletion does not remove a newer stored version', () =>
        withStore(async (store) => {
          const v20 = fakeEvent({ kind: KIND_MUTE_LIST, created_at: T0 + 20 })
          await store.event(v20)
          const del = fakeEvent({ kind: KIND_DELETION, tags: [['a', `${KIND_MUTE_LIST}:${ALICE}:`]], created_at: T0 + 10 })
          expect(expectStored(await store.event(del))).toEqual([])
          expect(await store.query([{ kinds: [KIND_MUTE_LIST] }])).toEqual([v20])
        }))

      it('deleting a deletion has no effect', () =>
        withStore(async (store) => {
          const note = fakeEvent()
          const del = fakeEvent({ kind: KIND_DELETION, tags: [['e', note.id]] })
          const undo = fakeEvent({ kind: KIND_DELETION, tags: [['e', del.id]], created_at: T0 + 1 })
          await store.event(note)
          await store.event(del)
          expect(expectStored(await store.event(undo))).toEqual([])
          expect(await store.query([{}])).toEqual(sorted([del, undo]))
          expect(await store.event(note)).toEqual({ ok: false, reason: DELETED })
        }))

      it('invariant: regular events end deleted or stored the same way in any order', async () => {
        await fc.assert(
          fc.asyncProperty(arbScenario(arbRegular, arbDeletion(true, false), 4), ({ events, deletions, order }) =>
            withStore(async (store) => {
              await writeAll(store, order)
              const alive = events.filter((e) => !deletions.some((d) => deletes(d, e)))
              expect(ids(await store.query([{}]))).toEqual(ids(sorted([...alive, ...deletions])))
            }),
          ),
          { numRuns },
        )
      })

      // With `e` deletions of versions, the end state depends on order (a replaced version is
      // gone, so a later deletion of its successor cannot bring it back): only safety holds.
      it('invariant: with e and a deletions, at most one version per address, never a deleted one', async () => {
        await fc.assert(
          fc.asyncProperty(arbScenario(arbVersions, arbDeletion(true, true), 4), ({ events, deletions, order }) =>
            withStore(async (store) => {
              await writeAll(store, order)
              const stored = await store.query([{ kinds: [...REPLACEABLE_KINDS, ...ADDRESSABLE_KINDS] }])
              const addresses = stored.map(addressOf)
              expect(new Set(addresses).size).toBe(addresses.length)
              const written = new Map(events.map((e) => [e.id, e]))
              const position = new Map(order.map((e, i) => [e.id, i]))
              for (const e of stored) {
                expect(written.get(e.id)).toEqual(e)
                expect(deletions.some((d) => deletes(d, e))).toBe(false)
                // A version written after it, at its address and never deleted, must have lost to it.
                const rivals = events.filter((v) => addressOf(v) === addressOf(e) && v.id !== e.id && !deletions.some((d) => deletes(d, v)))
                for (const r of rivals) if (position.get(r.id)! > position.get(e.id)!) expect(compareEvents(e, r)).toBeLessThan(0)
              }
            }),
          ),
          { numRuns },
        )
      })
    })

    describe('expiration (NIP-40)', () => {
      it('refuses an event that has expired, including one expiring this second', () =>
        withStore(async (store, clock) => {
          const now = clock.now()
          expect(await store.event(fakeEvent({ tags: [['expiration', String(now - 1)]] }))).toEqual({ ok: false, reason: EXPIRED })
          expect(await store.event(fakeEvent({ tags: [['expiration', String(now)]] }))).toEqual({ ok: false, reason: EXPIRED })
          expect(await store.count([{}])).toBe(0)
        }))

      it('serves an event until its expiration, then never again', () =>
        withStore(async (store, clock) => {
          const e = fakeEvent({ tags: [['expiration', String(clock.now() + 10)]] })
          expectStored(await store.event(e))
          clock.set(clock.now() + 9)
          expect(await store.query([{}])).toEqual([e])
          expect(await store.count([{}])).toBe(1)
          clock.set(clock.now() + 1)
          expect(await store.query([{}])).toEqual([])
          expect(await store.count([{}])).toBe(0)
          expect(await store.event(e)).toEqual({ ok: false, reason: EXPIRED })
        }))

      it('ignores a malformed expiration tag', () =>
        withStore(async (store) => {
          const e = fakeEvent({ tags: [['expiration', 'soon']] })
          expectStored(await store.event(e))
          expect(await store.query([{}])).toEqual([e])
        }))

      it('an expired newest version does not block an older one', () =>
        withStore(async (store, clock) => {
          const newer = fakeEvent({ kind: KIND_METADATA, created_at: T0 + 2, tags: [['expiration', String(clock.now() + 5)]] })
          const older = fakeEvent({ kind: KIND_METADATA, created_at: T0 + 1 })
          await store.event(newer)
          expect(await store.event(older)).toEqual({ ok: false, reason: OLDER_VERSION })
          clock.set(clock.now() + 5)
          expectStored(await store.event(older))
          expect(await store.query([{}])).toEqual([older])
        }))

      it('an expired deletion no longer blocks its target', () =>
        withStore(async (store, clock) => {
          const note = fakeEvent()
          const del = fakeEvent({ kind: KIND_DELETION, tags: [['e', note.id], ['expiration', String(clock.now() + 5)]] })
          await store.event(del)
          expect(await store.event(note)).toEqual({ ok: false, reason: DELETED })
          clock.set(clock.now() + 5)
          expectStored(await store.event(note))
        }))
    })

    describe('query and count', () => {
      const at = (dt: number, fields: Partial<NostrEvent> = {}) => fakeEvent({ created_at: T0 + dt, ...fields })

      it('returns newest first, ties by lowest id', () =>
        withStore(async (store) => {
          const events = [at(1, { id: hex64(9) }), at(3), at(1, { id: hex64(2) }), at(2)]
          for (const e of events) await store.event(e)
          expect(ids(await store.query([{}]))).toEqual(ids(sorted(events)))
        }))

      it('limit keeps the newest matches; limit 0 returns nothing; no limit returns all', () =>
        withStore(async (store) => {
          const events = [at(1), at(2), at(3), at(4), at(5)]
          for (const e of events) await store.event(e)
          expect(await store.query([{ limit: 2 }])).toEqual(sorted(events).slice(0, 2))
          expect(await store.query([{ limit: 0 }])).toEqual([])
          expect(await store.query([{ limit: 99 }])).toEqual(sorted(events))
          expect(await store.query([{}])).toEqual(sorted(events))
        }))

      it('applies each filter’s limit on its own, then merges without duplicates', () =>
        withStore(async (store) => {
          const alice = [at(1), at(3), at(5)]
          const bob = [at(2, { pubkey: BOB }), at(4, { pubkey: BOB })]
          for (const e of [...alice, ...bob]) await store.event(e)
          const result = await store.query([
            { authors: [ALICE], limit: 1 },
            { authors: [BOB], limit: 1 },
            { limit: 2 },
            { authors: [BOB], limit: 0 },
          ])
          expect(ids(result)).toEqual(ids([alice[2], bob[1]]))
          expect(await store.query([{ authors: [BOB] }, { authors: [BOB], limit: 1 }])).toEqual(sorted(bob))
        }))

      it('count is the number of distinct matches, ignoring limits', () =>
        withStore(async (store) => {
          const events = [at(1), at(2), at(3, { pubkey: BOB, kind: KIND_LIVE_CHAT })]
          for (const e of events) await store.event(e)
          expect(await store.count([{ authors: [ALICE], limit: 1 }, { kinds: [KIND_TEXT_NOTE] }, { limit: 0 }])).toBe(3)
          expect(await store.count([{ authors: [BOB] }])).toBe(1)
          expect(await store.count([{ authors: [CAROL] }])).toBe(0)
        }))

      it('answers tag filters, including #status', () =>
        withStore(async (store) => {
          const live = at(1, { kind: KIND_LIVE_EVENT, tags: [['d', 'x'], ['status', 'live'], ['t', 'music']] })
          const ended = at(1, { kind: KIND_LIVE_EVENT, tags: [['d', 'y'], ['status', 'ended']] })
          await store.event(live)
          await store.event(ended)
          expect(await store.query([{ kinds: [KIND_LIVE_EVENT], '#status': ['live'] }])).toEqual([live])
          expect(await store.query([{ '#t': ['music'] }])).toEqual([live])
          expect(await store.query([{ '#d': ['x', 'y'] }])).toEqual(sorted([live, ended]))
        }))

      it('invariant: query and count equal the filters applied to what must be stored', async () => {
        // Generated deletions only hit by `a` (their `e` tags point outside the batch), so the
        // end state does not depend on order and can be worked out from the batch alone.
        await fc.assert(
          fc.asyncProperty(arbEventsAndFilters, ({ events, filters }) =>
            withStore(async (store) => {
              await writeAll(store, events)
              const unique = [...new Map(events.map((e) => [e.id, e])).values()].filter((e) => !isEphemeral(e.kind))
              const deletions = unique.filter((e) => e.kind === KIND_DELETION)
              const stored = expectedAfterReplacement(unique.filter((e) => !deletions.some((d) => deletes(d, e))))
              const picked = new Set<NostrEvent>()
              for (const f of filters) {
                const matches = stored.filter((e) => matchFilter(f, e))
                for (const e of f.limit === undefined ? matches : matches.slice(0, f.limit)) picked.add(e)
              }
              expect(ids(await store.query(filters))).toEqual(ids(sorted([...picked])))
              expect(await store.count(filters)).toBe(stored.filter((e) => filters.some((f) => matchFilter(f, e))).length)
            }),
          ),
          { numRuns },
        )
      })
    })
  })
}

// ---------------------------------------------------------------------------------------------

export type TestLiveStore = LiveStore & { listenerCount(): number }

/** Pulls messages up to and including EOSE; returns the stored events seen. */
async function untilEose(it: AsyncIterator<ReqMessage>): Promise<NostrEvent[]> {
  const events: NostrEvent[] = []
  for (;;) {
    const { value, done } = await it.next()
    if (done) throw new Error('subscription ended before EOSE')
    if (value[0] === 'EOSE') return events
    if (value[0] === 'EVENT') events.push(value[1])
    else throw new Error(`unexpected ${value[0]} before EOSE`)
  }
}

export function describeLiveStoreConformance(name: string, makeStore: MakeStore<TestLiveStore>, options: ConformanceOptions = {}): void {
  const numRuns = options.numRuns ?? 1000

  async function withStore<T>(fn: (store: TestLiveStore) => Promise<T>): Promise<T> {
    const clock = manualClock()
    const store = await makeStore({ now: clock.now })
    try {
      return await fn(store)
    } finally {
      await store.close?.()
    }
  }

  function subscribe(store: TestLiveStore, filters: Filter[]) {
    const controller = new AbortController()
    const it = store.req(filters, { signal: controller.signal })[Symbol.asyncIterator]()
    return { it, abort: () => controller.abort() }
  }

  describe(`${name}: LiveStore conformance`, () => {
    it('delivers stored matches newest first, then EOSE, then later matching writes', () =>
      withStore(async (store) => {
        const old = [fakeEvent({ created_at: T0 }), fakeEvent({ created_at: T0 + 1 }), fakeEvent({ pubkey: BOB })]
        for (const e of old) await store.event(e)
        const sub = subscribe(store, [{ authors: [ALICE] }])
        expect(await untilEose(sub.it)).toEqual(sorted(old.slice(0, 2)))
        const next = sub.it.next()
        await store.event(fakeEvent({ pubkey: BOB }))
        const live = fakeEvent({ created_at: T0 - 100 })
        await store.event(live)
        expect(await next).toEqual({ done: false, value: ['EVENT', live] })
        sub.abort()
      }))

    it('delivers live events in write order, ephemeral ones included, duplicates and refusals not', () =>
      withStore(async (store) => {
        const first = fakeEvent({ kind: KIND_METADATA, created_at: T0 + 5 })
        await store.event(first)
        const sub = subscribe(store, [{}])
        expect(await untilEose(sub.it)).toEqual([first])
        const ephemeral = fakeEvent({ kind: EPHEMERAL_KIND })
        const note = fakeEvent()
        await store.event(first) // duplicate
        await store.event(fakeEvent({ kind: KIND_METADATA, created_at: T0 })) // older version
        await store.event(fakeEvent({ tags: [['expiration', '1']] })) // expired
        await store.event(ephemeral)
        await store.event(note)
        expect((await sub.it.next()).value).toEqual(['EVENT', ephemeral])
        expect((await sub.it.next()).value).toEqual(['EVENT', note])
        sub.abort()
        expect((await sub.it.next()).done).toBe(true)
      }))

    it('limit applies to stored events only: limit 0 still gets live ones', () =>
      withStore(async (store) => {
        await store.event(fakeEvent())
        const sub = subscribe(store, [{ limit: 0 }])
        expect(await untilEose(sub.it)).toEqual([])
        const live = fakeEvent()
        const next = sub.it.next()
        await store.event(live)
        expect((await next).value).toEqual(['EVENT', live])
        sub.abort()
      }))

    it('an event written while stored ones are being read arrives once, after EOSE', () =>
      withStore(async (store) => {
        const old = [fakeEvent({ created_at: T0 + 1 }), fakeEvent({ created_at: T0 })]
        for (const e of old) await store.event(e)
        const sub = subscribe(store, [{}])
        expect((await sub.it.next()).value).toEqual(['EVENT', old[0]])
        const during = fakeEvent({ created_at: T0 + 50 })
        await store.event(during)
        expect((await sub.it.next()).value).toEqual(['EVENT', old[1]])
        expect((await sub.it.next()).value).toEqual(['EOSE'])
        expect((await sub.it.next()).value).toEqual(['EVENT', during])
        sub.abort()
      }))

    it('a write racing with the start of a subscription arrives exactly once', () =>
      withStore(async (store) => {
        await store.event(fakeEvent())
        const sub = subscribe(store, [{}])
        const first = sub.it.next()
        const racer = fakeEvent({ created_at: T0 + 1 })
        await Promise.all([first, store.event(racer)])
        const seen = [(await first).value as ReqMessage]
        const sentinel = fakeEvent({ created_at: T0 - 1 })
        while (seen.at(-1)?.[0] !== 'EOSE') seen.push((await sub.it.next()).value as ReqMessage)
        await store.event(sentinel)
        const isEvent = (m: ReqMessage | undefined, id: string) => m?.[0] === 'EVENT' && m[1].id === id
        while (!isEvent(seen.at(-1), sentinel.id)) seen.push((await sub.it.next()).value as ReqMessage)
        expect(seen.filter((m) => isEvent(m, racer.id))).toHaveLength(1)
        sub.abort()
      }))

    it('abort ends a subscription waiting for live events and leaves no listener', () =>
      withStore(async (store) => {
        const sub = subscribe(store, [{}])
        await untilEose(sub.it)
        expect(store.listenerCount()).toBe(1)
        const pending = sub.it.next()
        sub.abort()
        expect(await pending).toEqual({ done: true, value: undefined })
        expect(store.listenerCount()).toBe(0)
      }))

    it('abort unsubscribes at once even if the consumer never pulls again', () =>
      withStore(async (store) => {
        const sub = subscribe(store, [{}])
        await untilEose(sub.it)
        sub.abort()
        expect(store.listenerCount()).toBe(0)
        await store.event(fakeEvent())
        expect((await sub.it.next()).done).toBe(true)
      }))

    it('leaving a for-await loop early leaves no listener', () =>
      withStore(async (store) => {
        await store.event(fakeEvent())
        const controller = new AbortController()
        let seen = 0
        for await (const message of store.req([{}], { signal: controller.signal })) {
          seen++
          if (message[0] === 'EOSE') break
        }
        expect(seen).toBe(2)
        expect(store.listenerCount()).toBe(0)
      }))

    it('an already aborted signal yields nothing', () =>
      withStore(async (store) => {
        await store.event(fakeEvent())
        const controller = new AbortController()
        controller.abort()
        const messages: ReqMessage[] = []
        for await (const m of store.req([{}], { signal: controller.signal })) messages.push(m)
        expect(messages).toEqual([])
        expect(store.listenerCount()).toBe(0)
      }))

    it('invariant: subscriptions leave no listener behind, however they end', async () => {
      const arbEnding = fc.record({
        pullToEose: fc.boolean(),
        how: fc.constantFrom('abort' as const, 'return' as const, 'abort-while-waiting' as const),
        writesBefore: fc.nat({ max: 3 }),
      })
      await fc.assert(
        fc.asyncProperty(fc.array(arbEnding, { minLength: 1, maxLength: 5 }), (endings) =>
          withStore(async (store) => {
            const subs = endings.map((ending) => ({ ending, ...subscribe(store, [{ kinds: [KIND_TEXT_NOTE] }]) }))
            for (const { ending, it } of subs) if (ending.pullToEose || ending.how === 'abort-while-waiting') await untilEose(it)
            for (const { ending, it, abort } of subs) {
              for (let i = 0; i < ending.writesBefore; i++) await store.event(fakeEvent())
              if (ending.how === 'abort') abort()
              else if (ending.how === 'return') await it.return?.()
              else {
                const pending = it.next()
                abort()
                // The pending pull either gets a queued event or ends; it must settle.
                await pending
              }
            }
            expect(store.listenerCount()).toBe(0)
          }),
        ),
        { numRuns },
      )
    })
  })
}
