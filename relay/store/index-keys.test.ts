import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { open } from 'lmdb'
import type { Database, RootDatabase } from 'lmdb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { compareEvents } from '../../protocol/filter.ts'
import { KIND_DELETION, KIND_LIVE_EVENT, KIND_SERVICE_METRICS, KIND_TEXT_NOTE } from '../../protocol/kinds.ts'
import type { NostrEvent } from '../../protocol/types.ts'
import { arbEvent } from '../../test/arbitraries.ts'
import { INDEX, getIndexKeys, getKeyString } from './index-keys.ts'
import type { IndexKey } from './index-keys.ts'
import { indexKeyEncoder } from './key-codec.ts'

const ALICE = 'a1'.repeat(32)
const BOB = 'b2'.repeat(32)
const hex64 = (n: number): string => n.toString(16).padStart(64, '0')
/** Where the store put the event; it follows the id in every key. */
const SEQ = 7
const event = (fields: Partial<NostrEvent> = {}): NostrEvent => ({
  id: hex64(1),
  pubkey: ALICE,
  created_at: 1_700_000_000,
  kind: KIND_TEXT_NOTE,
  tags: [],
  content: '',
  sig: '0'.repeat(128),
  ...fields,
})

// A real LMDB database with the store's key codec: the order under test is LMDB's byte order, not a model of it.
let dir: string
let env: RootDatabase
let db: Database<Uint8Array, IndexKey>
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'relaycast-keys-'))
  env = open({ path: dir, maxDbs: 2, noSync: true })
  const options = { name: 'index', encoding: 'binary', keyEncoder: indexKeyEncoder } as const
  db = env.openDB(options)
})
afterAll(async () => {
  await env.close()
  rmSync(dir, { recursive: true, force: true })
})

async function reset(keys: IndexKey[]): Promise<void> {
  await env.transaction(() => {
    db.clearSync()
    for (const key of keys) db.putSync(key, new Uint8Array(0))
  })
}

/** Where inv(created_at) sits: the index name and its values come before it. */
const TIME_AT: Record<string, number> = { c: 1, k: 2, a: 2, ak: 3, t: 3, s: 3, r: 2 }

const arbId = fc.stringMatching(/^[0-9a-f]{64}$/)
/** Times from the whole range an event may carry, with many ties. */
const arbTime = fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 2 ** 32 }), fc.constantFrom(1_700_000_000, 1_700_000_001))

describe('index keys', () => {
  it('invariant: within every index value, LMDB key order is compareEvents order', async () => {
    const arbEvents = fc.array(
      fc.tuple(arbEvent(), arbId, arbTime).map(([e, id, created_at]) => ({ ...e, id, created_at })),
      { minLength: 1, maxLength: 25 },
    )
    await fc.assert(
      fc.asyncProperty(arbEvents, async (events) => {
        const byId = new Map(events.map((e) => [e.id, e]))
        const keys = [...byId.values()].flatMap((e, seq) => getIndexKeys(e, seq + 1).filter((k) => k[0] in TIME_AT))
        await reset(keys)
        // Group by index value (everything before the time), then compare each group's order.
        const groups = new Map<string, IndexKey[]>()
        for (const key of db.getKeys({})) {
          const p = TIME_AT[key[0] as string]
          const group = JSON.stringify(key.slice(0, p))
          groups.set(group, [...(groups.get(group) ?? []), key])
        }
        expect(groups.size).toBeGreaterThan(0)
        for (const [, group] of groups) {
          const p = TIME_AT[group[0][0] as string]
          const inLmdbOrder = group.map((k) => byId.get(k[p + 1] as string)!)
          expect(inLmdbOrder.map((e) => e.id)).toEqual([...inLmdbOrder].sort(compareEvents).map((e) => e.id))
        }
      }),
      { numRuns: 300 },
    )
  })

  it('invariant: a key string round-trips and finds exactly its own range, whatever the string', async () => {
    const arbValue = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.string({ unit: fc.constantFrom('\0', '\x01', '\x04', '\x1b', 'a', 'é', '\uffff'), maxLength: 70 }),
      fc.string({ minLength: 60, maxLength: 400 }),
    )
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(arbValue, { minLength: 1, maxLength: 8 }), async (values) => {
        await reset(values.map((v, i) => [INDEX.tag, 't', getKeyString(v), -1, hex64(i)]))
        for (let i = 0; i < values.length; i++) {
          const k = getKeyString(values[i])
          const found = [...db.getKeys({ start: [INDEX.tag, 't', k], end: [INDEX.tag, 't', k, '\uffff'] })]
          expect(found).toEqual([[INDEX.tag, 't', k, -1, hex64(i)]])
        }
      }),
      { numRuns: 300 },
    )
  })

  it('getKeyString keeps ordinary values and hashes long or unsafe ones to a short marker string', () => {
    expect(getKeyString('music')).toBe('music')
    expect(getKeyString('')).toBe('')
    expect(getKeyString('nul\0ok when short')).toBe('nul\0ok when short')
    const long = 'x'.repeat(300)
    expect(getKeyString(long)).toMatch(/^\x01[0-9a-f]{62}$/)
    expect(getKeyString(long)).not.toBe(getKeyString(long.slice(1)))
    expect(getKeyString('y'.repeat(70) + '\0')).toBe('y'.repeat(70) + '\0')
    expect(getKeyString('lone \ud800 surrogate')).toMatch(/^\x01[0-9a-f]{62}$/) // UTF-8 cannot carry it
    expect(getKeyString('lone \ud800 surrogate')).not.toBe(getKeyString('lone \udbff surrogate'))
    expect(getKeyString('pair \ud83d\ude00')).toBe('pair \ud83d\ude00')
    expect(getKeyString('\x01abc')).toMatch(/^\x01[0-9a-f]{62}$/) // never mistaken for a hash
    expect(getKeyString('y'.repeat(200))).toBe('y'.repeat(200))
  })

  it('one key per index, every single-letter tag by its first value, no duplicates', () => {
    const e = event({
      tags: [['t', 'music'], ['t', 'music'], ['p', BOB, 'wss://relay'], ['e', hex64(7)], ['T', 'Music'], ['title', 'x'], ['t'], ['status', 'live']],
    })
    const keys = getIndexKeys(e, SEQ)
    const inv = -e.created_at
    expect(keys).toEqual([
      [INDEX.created, inv, e.id, SEQ],
      [INDEX.kind, KIND_TEXT_NOTE, inv, e.id, SEQ],
      [INDEX.authorKind, ALICE, KIND_TEXT_NOTE, inv, e.id, SEQ],
      [INDEX.tag, 't', 'music', inv, e.id, SEQ],
      [INDEX.tag, 'p', BOB, inv, e.id, SEQ],
      [INDEX.tag, 'e', hex64(7), inv, e.id, SEQ],
      [INDEX.tag, 'T', 'Music', inv, e.id, SEQ],
    ])
    expect(getIndexKeys(structuredClone(e), SEQ)).toEqual(keys)
  })

  it('indexes status per kind for live events and service metrics only', () => {
    const live = event({ kind: KIND_LIVE_EVENT, tags: [['d', 's'], ['status', 'live']] })
    const metrics = event({ kind: KIND_SERVICE_METRICS, tags: [['d', 's'], ['status', 'ended']] })
    const status = (e: NostrEvent) => getIndexKeys(e, SEQ).filter((k) => k[0] === INDEX.status)
    expect(status(live)).toEqual([[INDEX.status, KIND_LIVE_EVENT, 'live', -live.created_at, live.id, SEQ]])
    expect(status(metrics)).toEqual([[INDEX.status, KIND_SERVICE_METRICS, 'ended', -metrics.created_at, metrics.id, SEQ]])
    expect(status(event({ tags: [['status', 'live']] }))).toEqual([])
  })

  it('an expiring event carries its expiration in every key and gets a sweep key', () => {
    const e = event({ tags: [['expiration', '1700000100']] })
    const keys = getIndexKeys(e, SEQ)
    expect(keys).toContainEqual([INDEX.expiration, 1_700_000_100, e.id])
    for (const key of keys.filter((k) => k[0] !== INDEX.expiration)) expect(key.slice(-3)).toEqual([e.id, SEQ, 1_700_000_100])
    expect(getIndexKeys(event({ tags: [['expiration', 'soon']] }), SEQ).some((k) => k[0] === INDEX.expiration)).toBe(false)
  })

  it('replaceable and addressable events get a slot key', () => {
    const slot = (e: NostrEvent) => getIndexKeys(e, SEQ).filter((k) => k[0] === INDEX.address)
    expect(slot(event({ kind: 0 }))).toEqual([[INDEX.address, `0:${ALICE}:`, -1_700_000_000, hex64(1), SEQ]])
    expect(slot(event({ kind: KIND_LIVE_EVENT, tags: [['d', 'x'], ['d', 'y']] }))).toEqual([
      [INDEX.address, `${KIND_LIVE_EVENT}:${ALICE}:x`, -1_700_000_000, hex64(1), SEQ],
    ])
    expect(slot(event())).toEqual([])
  })

  it('a deletion leaves tombstones for its e targets and for its own author’s coordinates only', () => {
    const del = event({
      kind: KIND_DELETION,
      created_at: 50,
      tags: [['e', hex64(9)], ['e', 'not-an-id'], ['a', `${KIND_LIVE_EVENT}:${ALICE}:s`], ['a', `${KIND_LIVE_EVENT}:${BOB}:s`]],
    })
    const tombstones = getIndexKeys(del, SEQ).filter((k) => k[0] === INDEX.deletedId || k[0] === INDEX.deletedAddress)
    expect(tombstones).toEqual([
      [INDEX.deletedId, ALICE, hex64(9), -50, del.id, SEQ],
      [INDEX.deletedAddress, `${KIND_LIVE_EVENT}:${ALICE}:s`, 50, del.id],
    ])
    // Only kind 5 deletes.
    expect(getIndexKeys({ ...del, kind: KIND_TEXT_NOTE }, SEQ).some((k) => k[0] === INDEX.deletedId)).toBe(false)
  })

  it('invariant: getIndexKeys is pure and never repeats a key', () => {
    fc.assert(
      fc.property(arbEvent(), (e) => {
        const keys = getIndexKeys(e, SEQ).map((k) => JSON.stringify(k))
        expect(new Set(keys).size).toBe(keys.length)
        expect(getIndexKeys(structuredClone(e), SEQ).map((k) => JSON.stringify(k))).toEqual(keys)
      }),
      { numRuns: 1000 },
    )
  })
})
