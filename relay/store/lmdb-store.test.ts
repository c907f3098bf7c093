import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { open } from 'lmdb'
import { getEventHash } from 'nostr-tools/pure'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KIND_DELETION, KIND_LIVE_EVENT, KIND_SERVICE_METRICS, KIND_TEXT_NOTE } from '../../protocol/kinds.ts'
import { createMemoryStore } from '../../protocol/memory-store.ts'
import { getAddress } from '../../protocol/replaceable.ts'
import type { WriteResult } from '../../protocol/store.ts'
import type { Clock, Filter, NostrEvent } from '../../protocol/types.ts'
import { BASE_TIME, D_POOL, PUBKEY_POOL, STATUS_POOL, TIME_SPAN, arbEvent, arbEvents, arbFilter } from '../../test/arbitraries.ts'
import { describeStoreConformance } from '../../test/store-suite.ts'
import { getIndexKeys } from './index-keys.ts'
import { indexKeyEncoder } from './key-codec.ts'
import { createLmdbStore } from './lmdb-store.ts'
import type { LmdbStore } from './lmdb-store.ts'

const tempDirs: string[] = []
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'relaycast-lmdb-'))
  tempDirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
})

/**
 * One environment for every property run, cleared between runs (opening a fresh one costs
 * milliseconds), with a clock each run can swap in. noSync: durability is not under test here.
 */
function sharedStore() {
  let clock: Clock = () => 0
  let store: LmdbStore
  return {
    open: async () => {
      store = await createLmdbStore({ path: tempDir(), now: () => clock(), noSync: true })
    },
    close: () => store.close(),
    fresh: async (now: Clock): Promise<LmdbStore> => {
      clock = now
      await store.clear()
      return store
    },
  }
}

describe('lmdb store: conformance', () => {
  const shared = sharedStore()
  beforeAll(shared.open)
  afterAll(shared.close)
  // close() is a no-op per run: the next run clears the same environment.
  describeStoreConformance('lmdb store', async ({ now }) => ({ ...(await shared.fresh(now)), close: async () => {} }))
})

describe('lmdb store: conformance on fresh environments', () => {
  describeStoreConformance(
    'lmdb store (fresh dir per test)',
    async ({ now }) => {
      const path = tempDir()
      const store = await createLmdbStore({ path, now, noSync: true })
      return { ...store, close: async () => (await store.close(), rmSync(path, { recursive: true, force: true })) }
    },
    { numRuns: 20 },
  )
})

// ---------------------------------------------------------------------------------------------
// Differential: the LMDB store answers exactly like the reference memory store.

/** Same event with extra tags and its id recomputed (ids are real hashes in the arbitraries). */
function withTags(e: NostrEvent, tags: string[][]): NostrEvent {
  const unsigned = { pubkey: e.pubkey, created_at: e.created_at, kind: e.kind, tags: [...e.tags, ...tags], content: e.content }
  return { ...unsigned, id: getEventHash(unsigned), sig: e.sig }
}

const arbExpiration = fc.integer({ min: BASE_TIME, max: BASE_TIME + TIME_SPAN + 10 }).map((t) => ['expiration', String(t)])

/** Regular and versioned events, some expiring, plus deletions by e and a aimed at them. */
/** Live events and metrics with the tags the #status index is about. */
const arbLiveEvent = arbEvent({
  kinds: [KIND_LIVE_EVENT, KIND_SERVICE_METRICS],
  tags: fc
    .tuple(fc.constantFrom(...D_POOL), fc.constantFrom(...STATUS_POOL), fc.subarray(['music', 'irl']))
    .map(([d, status, ts]) => [['d', d], ['status', status], ...ts.map((t) => ['t', t])]),
})

const arbHistory: fc.Arbitrary<NostrEvent[]> = fc
  .tuple(arbEvents({ maxLength: 12 }), fc.array(arbLiveEvent, { maxLength: 4 }))
  .map(([events, live]) => [...events, ...live])
  .chain((events) =>
    fc.tuple(
      fc.constant(events),
      fc.array(fc.option(arbExpiration, { freq: 3 }), { minLength: events.length, maxLength: events.length }),
      fc.array(
        fc.record({
          base: arbEvent({ kinds: [KIND_DELETION] }),
          // Each target by e or by a (when it has an address); the same target may come twice.
          targets: events.length
            ? fc.array(fc.tuple(fc.constantFrom(...events), fc.boolean()), { maxLength: 3 })
            : fc.constant<[NostrEvent, boolean][]>([]),
          expiration: fc.option(arbExpiration, { freq: 4 }),
        }),
        { maxLength: 4 },
      ),
    ),
  )
  .map(([events, expirations, deletions]) => {
    const expiring = events.map((e, i) => (expirations[i] ? withTags(e, [expirations[i]]) : e))
    const dels = deletions.map(({ base, targets, expiration }) => {
      // Mostly the targets' own author, so deletions take effect.
      const pubkey = targets[0]?.[0].pubkey ?? base.pubkey
      const tags = targets.map(([t, byAddress]) => {
        const address = getAddress(t)
        return byAddress && address !== undefined ? ['a', address] : ['e', t.id]
      })
      return withTags({ ...base, pubkey, tags: [] }, expiration ? [...tags, expiration] : tags)
    })
    return [...expiring, ...dels]
  })
  .chain((all) => fc.shuffledSubarray(all, { minLength: all.length }))

type Op =
  | { type: 'event'; event: NostrEvent }
  | { type: 'batch'; events: NostrEvent[] }
  | { type: 'tick'; seconds: number }
  | { type: 'remove'; ids: string[] }
  | { type: 'sweep' }

/** Status filters (the LMDB store's #status index) next to the generic ones. */
const arbStatusFilter: fc.Arbitrary<Filter> = fc.record(
  {
    kinds: fc.subarray([KIND_LIVE_EVENT, KIND_SERVICE_METRICS, KIND_TEXT_NOTE], { minLength: 1 }),
    '#status': fc.subarray([...STATUS_POOL], { minLength: 1 }),
    authors: fc.subarray([...PUBKEY_POOL], { minLength: 1 }),
    '#d': fc.subarray([...D_POOL], { minLength: 1 }),
    until: fc.integer({ min: BASE_TIME, max: BASE_TIME + TIME_SPAN }),
    limit: fc.nat({ max: 4 }),
  },
  { requiredKeys: ['kinds', '#status'] },
)

const arbCase = arbHistory.chain((events) =>
  fc.record({
    ops: fc
      .array(
        fc.oneof(
          { weight: 6, arbitrary: fc.constant(null) },
          { weight: 1, arbitrary: fc.nat({ max: 6 }).map((seconds): Op => ({ type: 'tick', seconds })) },
          { weight: 1, arbitrary: fc.constant<Op>({ type: 'sweep' }) },
          {
            weight: 1,
            arbitrary: fc.subarray(events.map((e) => e.id), { maxLength: Math.min(2, events.length) }).map(
              (ids): Op => ({ type: 'remove', ids }),
            ),
          },
        ),
        { minLength: events.length, maxLength: events.length + 3 },
      )
      .chain((slots) => {
        // Interleave the events (in order) with the other operations, some grouped in batches.
        const ops: Op[] = []
        let i = 0
        for (const slot of slots) {
          if (slot) ops.push(slot)
          else if (i < events.length) ops.push({ type: 'event', event: events[i++] })
        }
        while (i < events.length) ops.push({ type: 'event', event: events[i++] })
        return fc.array(fc.boolean(), { minLength: ops.length, maxLength: ops.length }).map((joins) => {
          const out: Op[] = []
          ops.forEach((op, k) => {
            const last = out[out.length - 1]
            if (op.type === 'event' && joins[k] && last?.type === 'batch') last.events.push(op.event)
            else if (op.type === 'event' && joins[k]) out.push({ type: 'batch', events: [op.event] })
            else out.push(op)
          })
          return out
        })
      }),
    filters: fc.array(fc.oneof({ weight: 4, arbitrary: arbFilter(events) }, { weight: 1, arbitrary: arbStatusFilter }), {
      minLength: 1,
      maxLength: 3,
    }),
  }),
)

describe('lmdb store: differential against the memory store', () => {
  const shared = sharedStore()
  beforeAll(shared.open)
  afterAll(shared.close)

  it('invariant: for any history of writes, deletions, expiry, removals and sweeps, LMDB answers exactly like the memory store', async () => {
    await fc.assert(
      fc.asyncProperty(arbCase, async ({ ops, filters }) => {
        let t = BASE_TIME + 3
        const now = () => t
        const lmdb = await shared.fresh(now)
        const memory = createMemoryStore({ now })
        for (const op of ops) {
          switch (op.type) {
            case 'event':
              expect(await lmdb.event(op.event)).toEqual(await memory.event(op.event))
              break
            case 'batch': {
              const expected: WriteResult[] = []
              for (const e of op.events) expected.push(await memory.event(e))
              expect(await lmdb.eventBatch(op.events)).toEqual(expected)
              break
            }
            case 'tick':
              t += op.seconds
              break
            case 'remove':
              expect(await lmdb.remove(op.ids)).toEqual(await memory.remove(op.ids))
              break
            case 'sweep':
              await lmdb.sweepExpired()
              break
          }
        }
        expect(await lmdb.query(filters)).toEqual(await memory.query(filters))
        expect(await lmdb.count(filters)).toBe(await memory.count(filters))
        for (const f of filters) expect(await lmdb.query([f])).toEqual(await memory.query([f]))
        expect(await lmdb.query([{}])).toEqual(await memory.query([{}]))
        const raw = await lmdb.queryRaw(filters)
        expect(raw.map((json) => JSON.parse(json))).toEqual(await memory.query(filters))
      }),
      { numRuns: 500 },
    )
  })
})

// ---------------------------------------------------------------------------------------------

const note = (n: number, fields: Partial<NostrEvent> = {}): NostrEvent => ({
  id: n.toString(16).padStart(64, '0'),
  pubkey: 'a1'.repeat(32),
  created_at: 1_700_000_000 + n,
  kind: KIND_TEXT_NOTE,
  tags: [['t', 'music']],
  content: `note ${n}`,
  sig: '0'.repeat(128),
  ...fields,
})

describe('lmdb store: its own API', () => {
  it('keeps its data across close and reopen', async () => {
    const path = tempDir()
    const first = await createLmdbStore({ path })
    const events = [note(1), note(2), note(3, { kind: KIND_LIVE_EVENT, tags: [['d', 's'], ['status', 'live']] })]
    await first.eventBatch(events)
    const del = note(4, { kind: KIND_DELETION, tags: [['e', note(9).id]] })
    await first.event(del)
    await first.close()

    const again = await createLmdbStore({ path })
    expect(await again.query([{}])).toEqual([del, ...events].sort((a, b) => b.created_at - a.created_at))
    expect(await again.query([{ kinds: [KIND_LIVE_EVENT], '#status': ['live'] }])).toEqual([events[2]])
    // The tombstone survived too.
    expect(await again.event(note(9))).toEqual({ ok: false, reason: 'blocked: deleted by its author' })
    expect(again.stats()).toMatchObject({ events: 4 })
    await again.close()
  })

  it('opens a directory whose name has a dot, and refuses data written with other index keys', async () => {
    const path = join(tempDir(), 'relay.lmdb')
    const store = await createLmdbStore({ path, noSync: true })
    await store.event(note(1))
    await store.close()
    const env = open({ path, noSubdir: false, maxDbs: 4 })
    await env.openDB({ name: 'meta', encoding: 'ordered-binary' }).put('schema', 99)
    await env.close()
    await expect(createLmdbStore({ path })).rejects.toThrow(/schema 99/)
  })

  it('migrates a schema 1 store (events by id) to bodies by seq, reindexing everything, across chunk boundaries', async () => {
    const path = tempDir()
    // Schema 1 as the previous build wrote it: id → JSON, index keys without a seq.
    const notes = Array.from({ length: 5003 }, (_, i) => note(i + 10))
    const profile = note(1, { kind: 0, tags: [] })
    const del = note(2, { kind: KIND_DELETION, tags: [['e', note(9).id]] })
    const env = open({ path, noSubdir: false, maxDbs: 4, noSync: true })
    const old = env.openDB<string, string>({ name: 'events', encoding: 'string' })
    const oldIndex = env.openDB({ name: 'index', encoding: 'binary' })
    await env.transaction(() => {
      for (const e of [...notes, profile, del]) old.putSync(e.id, JSON.stringify(e))
      oldIndex.putSync(['c', -1, 'stale key of the old layout'], new Uint8Array(0))
    })
    await env.openDB({ name: 'meta', encoding: 'ordered-binary' }).put('schema', 1)
    await env.close()

    const said: string[] = []
    const store = await createLmdbStore({ path, noSync: true, log: { log: (line: string) => void said.push(line) } })
    expect(said).toEqual([expect.stringContaining('migrating'), expect.stringMatching(/^lmdb store: migrated 5005 events in [0-9.]+ s$/)])
    expect(store.stats().events).toBe(notes.length + 2)
    expect(await store.count([{ kinds: [KIND_TEXT_NOTE] }])).toBe(notes.length)
    expect(await store.query([{ '#t': ['music'], limit: 2 }])).toEqual([notes.at(-1), notes.at(-2)])
    expect(await store.query([{ ids: [notes[4321].id] }])).toEqual([notes[4321]])
    // Tombstones and replaceable slots are rebuilt from the stored events.
    expect(await store.event(note(9))).toEqual({ ok: false, reason: 'blocked: deleted by its author' })
    const newer = note(3, { kind: 0, tags: [] })
    expect(await store.event(newer)).toMatchObject({ ok: true, stored: true, removed: [profile.id] })
    expect(await store.query([{ kinds: [0] }])).toEqual([newer])
    expect(await store.query([{ since: 1, until: 1 }])).toEqual([]) // the stale key (time 1) is gone: reading it would throw
    await store.close()

    // Done once: the schema says 3 and a reopen finds the same store.
    const again = await createLmdbStore({ path, noSync: true, log: { log: (line: string) => void said.push(line) } })
    expect(said).toHaveLength(2) // nothing left to migrate
    expect(again.stats().events).toBe(notes.length + 2)
    expect(await again.query([{ kinds: [0] }])).toEqual([newer])
    await again.close()
    const check = open({ path, noSubdir: false, maxDbs: 6 })
    expect(check.openDB({ name: 'meta', encoding: 'ordered-binary' }).get('schema')).toBe(4)
    expect([...check.openDB({ name: 'events', encoding: 'string' }).getKeys({})]).toEqual([])
    await check.close()
  }, 60_000)

  it('migrates a schema 2 store (ordered-binary keys) by rebuilding ids and index from the bodies', async () => {
    const path = tempDir()
    // Schema 2 as the previous build wrote it: the same bodies by seq, ids and index keys in ordered-binary.
    const notes = Array.from({ length: 5003 }, (_, i) => note(i + 10))
    const profile = note(1, { kind: 0, tags: [] })
    const del = note(2, { kind: KIND_DELETION, tags: [['e', note(9).id]] })
    const env = open({ path, noSubdir: false, maxDbs: 4, noSync: true })
    const bodies = env.openDB<string, number>({ name: 'json', encoding: 'string' })
    const oldIds = env.openDB<number, string>({ name: 'ids', encoding: 'ordered-binary' })
    const oldIndex = env.openDB({ name: 'index', encoding: 'binary' })
    await env.transaction(() => {
      ;[...notes, profile, del].forEach((e, i) => {
        bodies.putSync(i + 1, JSON.stringify(e))
        oldIds.putSync(e.id, i + 1)
        oldIndex.putSync(['c', -e.created_at, e.id, i + 1], new Uint8Array(0))
      })
    })
    await env.openDB({ name: 'meta', encoding: 'ordered-binary' }).put('schema', 2)
    await env.close()

    const said: string[] = []
    const store = await createLmdbStore({ path, noSync: true, log: { log: (line: string) => void said.push(line) } })
    expect(said).toEqual([expect.stringContaining('from schema 2'), expect.stringMatching(/^lmdb store: migrated 5005 events in [0-9.]+ s$/)])
    expect(store.stats()).toMatchObject({ events: notes.length + 2 })
    expect(await store.count([{ kinds: [KIND_TEXT_NOTE] }])).toBe(notes.length)
    expect(await store.query([{ '#t': ['music'], limit: 2 }])).toEqual([notes.at(-1), notes.at(-2)])
    expect(await store.query([{ ids: [notes[4321].id, profile.id] }])).toEqual([notes[4321], profile])
    expect(await store.event(notes[17])).toMatchObject({ ok: true, stored: false }) // a duplicate, by the rebuilt ids
    expect(await store.event(note(9))).toEqual({ ok: false, reason: 'blocked: deleted by its author' })
    const newer = note(3, { kind: 0, tags: [] })
    expect(await store.event(newer)).toMatchObject({ ok: true, stored: true, removed: [profile.id] })
    await store.close()

    const again = await createLmdbStore({ path, noSync: true, log: { log: (line: string) => void said.push(line) } })
    expect(said).toHaveLength(2)
    expect(await again.query([{ kinds: [0] }])).toEqual([newer])
    // Every index key of the new layout, and nothing else, is left.
    expect(again.stats().indexKeys).toBe([...notes, del, newer].reduce((n, e, i) => n + getIndexKeys(e, i).length, 0))
    await again.close()
  }, 60_000)

  it('migrates a schema 3 store by removing its author index, across chunk boundaries', async () => {
    const path = tempDir()
    const notes = Array.from({ length: 5003 }, (_, i) => note(i + 10, { pubkey: i % 2 ? 'a1'.repeat(32) : 'b2'.repeat(32) }))
    const first = await createLmdbStore({ path, noSync: true })
    await first.eventBatch(notes)
    await first.close()
    // Schema 3 as the previous build left it: the same keys plus [a, pubkey, inv, id, seq] per event.
    const env = open({ path, noSubdir: false, maxDbs: 6, noSync: true })
    const indexOptions = { name: 'index', encoding: 'binary', keyEncoder: indexKeyEncoder } as const // lmdb-js's types lack keyEncoder
    const index = env.openDB(indexOptions)
    await env.transaction(() => {
      notes.forEach((e, i) => index.putSync(['a', e.pubkey, -e.created_at, e.id, i + 1], new Uint8Array(0)))
      env.openDB({ name: 'meta', encoding: 'ordered-binary' }).putSync('schema', 3)
    })
    await env.close()

    const said: string[] = []
    const store = await createLmdbStore({ path, noSync: true, log: { log: (line: string) => void said.push(line) } })
    expect(said).toEqual([expect.stringContaining('from schema 3 to 4'), expect.stringMatching(/^lmdb store: removed 5003 index keys in [0-9.]+ s$/)])
    expect(store.stats().indexKeys).toBe(notes.reduce((n, e, i) => n + getIndexKeys(e, i + 1).length, 0))
    const byAuthor = notes.filter((e) => e.pubkey === 'a1'.repeat(32)).reverse()
    expect(await store.query([{ authors: ['a1'.repeat(32)], limit: 3 }])).toEqual(byAuthor.slice(0, 3))
    expect(await store.count([{ authors: ['a1'.repeat(32)] }])).toBe(byAuthor.length)
    await store.close()
    const again = await createLmdbStore({ path, noSync: true, log: { log: (line: string) => void said.push(line) } })
    expect(said).toHaveLength(2) // nothing left to migrate
    await again.close()
  }, 60_000)

  it('eventBatch applies events in order, each seeing the ones before it', async () => {
    const store = await createLmdbStore({ path: tempDir(), noSync: true })
    const v1 = note(1, { kind: 0, tags: [] })
    const v2 = note(2, { kind: 0, tags: [] })
    const results = await store.eventBatch([v1, v1, v2, v1])
    expect(results).toEqual([
      { ok: true, stored: true, reason: '', removed: [] },
      { ok: true, stored: false, reason: 'duplicate: already have this event', removed: [] },
      { ok: true, stored: true, reason: '', removed: [v1.id] },
      { ok: false, reason: 'duplicate: have a newer version of this replaceable event' },
    ])
    expect(await store.query([{}])).toEqual([v2])
    await store.close()
  })

  it("NIP-09 by a: only the deleter's own address, only versions up to the deletion's created_at; survives a reopen", async () => {
    const path = tempDir()
    const store = await createLmdbStore({ path, noSync: true })
    const owner = 'a1'.repeat(32)
    const other = 'b2'.repeat(32)
    const address = `${KIND_LIVE_EVENT}:${owner}:show`
    const version = (n: number, at: number) => note(n, { kind: KIND_LIVE_EVENT, created_at: at, tags: [['d', 'show'], ['status', 'live']] })
    const v1 = version(1, 1000)
    await store.event(v1)
    // Someone else's deletion of the owner's address: no effect, and no block later.
    const foreign = note(2, { pubkey: other, kind: KIND_DELETION, created_at: 2000, tags: [['a', address]] })
    expect(await store.event(foreign)).toMatchObject({ ok: true, stored: true, removed: [] })
    expect(await store.query([{ ids: [v1.id] }])).toEqual([v1])
    // The owner's own deletion at 1500 removes v1 …
    const own = note(3, { kind: KIND_DELETION, created_at: 1500, tags: [['a', address]] })
    expect(await store.event(own)).toMatchObject({ ok: true, stored: true, removed: [v1.id] })
    // … blocks versions up to 1500, not later ones.
    expect(await store.event(version(4, 1500))).toEqual({ ok: false, reason: 'blocked: deleted by its author' })
    const later = version(5, 1501)
    expect(await store.event(later)).toMatchObject({ ok: true, stored: true })
    await store.close()
    const again = await createLmdbStore({ path, noSync: true })
    expect(await again.event(version(6, 1400))).toEqual({ ok: false, reason: 'blocked: deleted by its author' })
    expect(await again.query([{ kinds: [KIND_LIVE_EVENT] }])).toEqual([later])
    await again.close()
  })

  it('queryRaw returns the stored JSON, NIP-01 fields only, in query order', async () => {
    const store = await createLmdbStore({ path: tempDir(), noSync: true })
    const extra = { ...note(1), seen: 'elsewhere' } as NostrEvent
    await store.eventBatch([extra, note(2)])
    const raw = await store.queryRaw([{ '#t': ['music'] }])
    expect(raw).toEqual([JSON.stringify(note(2)), JSON.stringify(note(1))])
    await store.close()
  })

  it('queryFrames gives each stored JSON between the bytes asked for, as queryRaw does, across chunks', async () => {
    const store = await createLmdbStore({ path: tempDir(), noSync: true })
    // ~400 events of ~1 kB with non-ASCII content: several 64 KiB chunks, a frame on each boundary.
    const events = Array.from({ length: 400 }, (_, i) => note(i + 1, { content: `é ${'x'.repeat(i * 7 % 900)} 😀` }))
    await store.eventBatch(events)
    const filters: Filter[] = [{ '#t': ['music'] }, { ids: [events[3].id, 'not hex'] }, { authors: [events[0].pubkey], limit: 5 }]
    const raw = await store.queryRaw(filters)
    const before = new TextEncoder().encode('["EVENT","sub ü",')
    const after = new TextEncoder().encode(']')
    const frames = await store.queryFrames(filters, before, after)
    expect(frames.length).toBe(400)
    expect(frames.map(({ frame }) => new TextDecoder().decode(frame))).toEqual(raw.map((json) => `["EVENT","sub ü",${json}]`))
    expect(frames.map(({ id }) => id)).toEqual(raw.map((json) => (JSON.parse(json) as NostrEvent).id))
    expect(await store.queryFrames([{ ids: ['not hex'] }], before, after)).toEqual([])
    // One result is not cut from a 64 KiB chunk.
    const [one] = await store.queryFrames([{ ids: [events[3].id] }], before, after)
    expect(one.frame.buffer.byteLength).toBeLessThan(16 * 1024)
    await store.close()
  })

  it('remove takes events out without a tombstone and lifts the blocks of a removed deletion', async () => {
    const store = await createLmdbStore({ path: tempDir(), noSync: true })
    const target = note(1)
    const del = note(2, { kind: KIND_DELETION, tags: [['e', target.id]] })
    await store.event(del)
    expect(await store.event(target)).toEqual({ ok: false, reason: 'blocked: deleted by its author' })
    expect(await store.remove([del.id, del.id, note(7).id])).toEqual([del.id])
    expect(await store.event(target)).toMatchObject({ ok: true, stored: true })
    expect(await store.remove([target.id])).toEqual([target.id])
    expect(await store.event(target)).toMatchObject({ ok: true, stored: true })
    await store.close()
  })

  it('sweepExpired deletes expired events from disk, with every index key', async () => {
    let t = 1_700_000_100
    const store = await createLmdbStore({ path: tempDir(), now: () => t, noSync: true })
    const keep = note(1)
    const soon = note(2, { tags: [['t', 'music'], ['expiration', String(t + 5)]] })
    const later = note(3, { tags: [['expiration', String(t + 50)]] })
    await store.eventBatch([keep, soon, later])
    const before = store.stats()
    t += 5
    expect(await store.count([{}])).toBe(2) // invisible at once…
    expect(store.stats().events).toBe(3) // …on disk until swept
    expect(await store.sweepExpired()).toBe(1)
    const after = store.stats()
    expect(after.events).toBe(2)
    // created, kind, author+kind, one t tag and the expiration key.
    expect(before.indexKeys - after.indexKeys).toBe(5)
    expect(await store.sweepExpired()).toBe(0)
    t += 100
    expect(await store.sweepExpired()).toBe(1)
    expect(await store.query([{}])).toEqual([keep])
    await store.close()
  })

  it('stores long and NUL-bearing tag values and finds them exactly', async () => {
    const store = await createLmdbStore({ path: tempDir(), noSync: true })
    const long = 'x'.repeat(5000)
    const a = note(1, { tags: [['t', long]] })
    const b = note(2, { tags: [['t', 'nul\0inside']] })
    const c = note(3, { tags: [['t', long.slice(1)]] })
    await store.eventBatch([a, b, c])
    // ids only: a failure must not print a 5000-character tag
    const ids = async (filter: Filter) => (await store.query([filter])).map((e) => e.id)
    expect(await ids({ '#t': [long] })).toEqual([a.id])
    expect(await ids({ '#t': ['nul\0inside'] })).toEqual([b.id])
    expect(await ids({ '#t': ['nul'] })).toEqual([])
    expect(await ids({ '#t': [long.slice(1)] })).toEqual([c.id])
    expect(await store.count([{ '#t': [long, long.slice(1)] }])).toBe(2)
    await store.close()
  })

  it('a write that throws halfway rolls back alone and is answered error:', async () => {
    const failures: unknown[] = []
    const store = await createLmdbStore({ path: tempDir(), noSync: true, onError: (err) => failures.push(err) })
    const v1 = note(1, { kind: 0, tags: [] })
    // JSON.stringify throws on a BigInt: after v1 was dropped, before v2 is saved.
    const broken = note(2, { kind: 0, tags: [], content: 1n as unknown as string })
    const after = note(3)
    expect(await store.eventBatch([v1, broken, after])).toEqual([
      { ok: true, stored: true, reason: '', removed: [] },
      { ok: false, reason: 'error: could not store the event' },
      { ok: true, stored: true, reason: '', removed: [] },
    ])
    expect(failures).toHaveLength(1)
    expect(await store.query([{}])).toEqual([after, v1])
    expect(store.stats().events).toBe(2)
    await store.close()
  })

  it('refuses ids and pubkeys that are not 64 lowercase hex, which would corrupt index keys', async () => {
    const store = await createLmdbStore({ path: tempDir(), noSync: true })
    const reason = 'invalid: id and pubkey must be 64 lowercase hex characters'
    expect(await store.event(note(1, { id: 'x\0y' }))).toEqual({ ok: false, reason })
    expect(await store.event(note(1, { pubkey: 'A1'.repeat(32) }))).toEqual({ ok: false, reason })
    expect(await store.count([{}])).toBe(0)
    await store.close()
  })

  it('rejects calls whose signal has already aborted', async () => {
    const store = await createLmdbStore({ path: tempDir(), noSync: true })
    const signal = AbortSignal.abort()
    await expect(store.eventBatch([note(1)], { signal })).rejects.toThrow()
    await expect(store.queryRaw([{}], { signal })).rejects.toThrow()
    await expect(store.remove([note(1).id], { signal })).rejects.toThrow()
    expect(await store.count([{}])).toBe(0)
    await store.close()
  })
})
