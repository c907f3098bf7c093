import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { open } from 'lmdb'
import type { Database, RootDatabase } from 'lmdb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { compareEvents, matchFilter } from '../../protocol/filter.ts'
import { KIND_LIVE_CHAT, KIND_LIVE_EVENT, KIND_SERVICE_METRICS, KIND_TEXT_NOTE } from '../../protocol/kinds.ts'
import type { Filter, NostrEvent } from '../../protocol/types.ts'
import { INDEX, getIndexKeys } from './index-keys.ts'
import type { IndexKey } from './index-keys.ts'
import { indexKeyEncoder } from './key-codec.ts'
import { countFilters, planFilter, runFilter, runFilters } from './query-plan.ts'
import type { IndexSource } from './query-plan.ts'

const ALICE = 'a1'.repeat(32)
const BOB = 'b2'.repeat(32)
const CAROL = 'c3'.repeat(32)
const T0 = 1_700_000_000
const hex64 = (n: number): string => n.toString(16).padStart(64, '0')

describe('planFilter', () => {
  const planOf = (f: Filter) => {
    const plan = planFilter(f)
    return plan.type === 'scan' ? { index: plan.index, prefixes: plan.prefixes, covered: plan.covered } : plan
  }

  it('never scans for a filter that cannot match', () => {
    for (const f of [{ ids: [] }, { authors: [] }, { kinds: [] }, { '#t': [] }, { since: 5, until: 4 }] as Filter[]) {
      expect(planFilter(f)).toEqual({ type: 'empty' })
    }
  })

  it('looks ids up directly, without duplicates', () => {
    expect(planFilter({ ids: [hex64(1), hex64(1), hex64(2)], authors: [ALICE] })).toEqual({ type: 'ids', ids: [hex64(1), hex64(2)] })
  })

  it('prefers authors × kinds, then the tag with fewest values, then authors, kinds, time', () => {
    expect(planOf({ authors: [ALICE, BOB], kinds: [1, 1], '#t': ['x'] })).toEqual({
      index: INDEX.authorKind,
      prefixes: [
        [INDEX.authorKind, ALICE, 1],
        [INDEX.authorKind, BOB, 1],
      ],
      covered: false,
    })
    expect(planOf({ authors: [ALICE], '#t': ['x', 'y'], '#p': [BOB] })).toEqual({
      index: INDEX.tag,
      prefixes: [[INDEX.tag, 'p', BOB]],
      covered: false,
    })
    // Authors alone: the author+kind index, each author's kinds found when the plan runs.
    expect(planFilter({ authors: [ALICE, BOB] })).toEqual({
      type: 'scan',
      index: INDEX.authorKind,
      prefixes: [[INDEX.authorKind, ALICE], [INDEX.authorKind, BOB]],
      covered: true,
      byKind: {},
    })
    expect(planOf({ kinds: [1], '#title': ['x'] })).toEqual({ index: INDEX.kind, prefixes: [[INDEX.kind, 1]], covered: false })
    expect(planOf({ since: 1, until: 2, limit: 3 })).toEqual({ index: INDEX.created, prefixes: [[INDEX.created]], covered: true })
  })

  it('too many authors × kinds fall back to a cheaper index', () => {
    const authors = Array.from({ length: 100 }, (_, i) => hex64(i))
    // One prefix per author instead of 300, and only the filter's kinds are expanded: still covered.
    expect(planFilter({ authors, kinds: [1, 2, 3, 2] })).toMatchObject({ index: INDEX.authorKind, covered: true, byKind: { kinds: [1, 2, 3] } })
    expect((planFilter({ authors, kinds: [1, 2, 3] }) as { prefixes: unknown[] }).prefixes).toHaveLength(100)
  })

  it('answers the live-now query from the status index alone', () => {
    expect(planOf({ kinds: [KIND_LIVE_EVENT], '#status': ['live'] })).toEqual({
      index: INDEX.status,
      prefixes: [[INDEX.status, KIND_LIVE_EVENT, 'live']],
      covered: true,
    })
    // Other kinds' statuses are not indexed: the status index cannot answer for them.
    expect(planOf({ kinds: [KIND_LIVE_EVENT, KIND_TEXT_NOTE], '#status': ['live'] })).toMatchObject({ index: INDEX.kind, covered: false })
    expect(planOf({ '#status': ['live'] })).toMatchObject({ index: INDEX.created, covered: false })
    expect(planOf({ kinds: [KIND_SERVICE_METRICS], '#status': ['live'], '#a': ['x'] })).toMatchObject({ index: INDEX.status, covered: false })
  })
})

// ---------------------------------------------------------------------------------------------
// Execution against a real LMDB index, counting what is read.

let dir: string
let env: RootDatabase
let index: Database<Uint8Array, IndexKey>
let json: Database<string, string>
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'relaycast-plan-'))
  env = open({ path: dir, maxDbs: 2, noSync: true })
  const options = { name: 'index', encoding: 'binary', keyEncoder: indexKeyEncoder } as const // the store's key layout
  index = env.openDB(options)
  json = env.openDB({ name: 'events', encoding: 'string' })
})
afterAll(async () => {
  await env.close()
  rmSync(dir, { recursive: true, force: true })
})

const idAt: string[] = []
async function load(events: NostrEvent[]): Promise<void> {
  await env.transaction(() => {
    index.clearSync()
    json.clearSync()
    idAt.length = 0
    events.forEach((e, i) => {
      // Bodies stay keyed by id here; the keys' seq finds the id through idAt.
      json.putSync(e.id, JSON.stringify(e))
      idAt[i + 1] = e.id
      for (const key of getIndexKeys(e, i + 1)) index.putSync(key, new Uint8Array(0))
    })
  })
}

/** An IndexSource that counts keys read, events read, and cursors opened and closed. */
function countingSource() {
  const counts = { keys: 0, events: 0, opened: 0, closed: 0 }
  const source: IndexSource = {
    keys(start, end) {
      counts.opened++
      const it = index.getKeys({ start, end })[Symbol.iterator]()
      return {
        next: () => {
          const r = it.next()
          if (!r.done) counts.keys++
          return r
        },
        return: (value?: unknown) => {
          counts.closed++
          return it.return?.(value) ?? { done: true, value: undefined }
        },
      }
    },
    seqOf(id) {
      const seq = idAt.indexOf(id)
      return seq > 0 ? seq : undefined
    },
    jsonAt(seq) {
      counts.events++
      return json.get(idAt[seq])
    },
  }
  return { source, counts }
}

let seq = 0
const note = (fields: Partial<NostrEvent> = {}): NostrEvent => ({
  id: hex64(++seq),
  pubkey: ALICE,
  created_at: T0,
  kind: KIND_TEXT_NOTE,
  tags: [],
  content: '',
  sig: '0'.repeat(128),
  ...fields,
})

const brute = (events: NostrEvent[], f: Filter): string[] => {
  const all = events.filter((e) => matchFilter(f, e)).sort(compareEvents)
  return (f.limit === undefined ? all : all.slice(0, f.limit)).map((e) => e.id)
}

describe('running a plan', () => {
  // 600 notes from three authors over 200 seconds, tagged so that tag scans have work to skip.
  const events = Array.from({ length: 600 }, (_, i) =>
    note({
      pubkey: [ALICE, BOB, CAROL][i % 3],
      created_at: T0 + (i % 200),
      kind: i % 5 === 0 ? KIND_LIVE_CHAT : KIND_TEXT_NOTE,
      tags: [['t', i % 2 ? 'odd' : 'even'], ...(i % 7 === 0 ? [['t', 'seven']] : [])],
    }),
  )
  beforeAll(() => load(events))

  const run = (f: Filter) => {
    const { source, counts } = countingSource()
    const ids = runFilter(source, f, planFilter(f), T0, 'json').map((h) => h.id)
    expect(counts.closed).toBe(counts.opened) // no cursor left open
    return { ids, counts }
  }

  it('a covered filter reads exactly `limit` events, and keys only around them', () => {
    const f = { kinds: [KIND_TEXT_NOTE], limit: 10 }
    const { ids, counts } = run(f)
    expect(ids).toEqual(brute(events, f))
    expect(counts).toMatchObject({ keys: 10, events: 10 })
    // By author: one key per kind found (two here) and at most one read ahead per kind's range.
    const byAuthor = { authors: [ALICE], limit: 10 }
    const a = run(byAuthor)
    expect(a.ids).toEqual(brute(events, byAuthor))
    expect(a.counts.events).toBe(10)
    expect(a.counts.keys).toBeLessThanOrEqual(10 + 2 + 2)
  })

  it('finds every kind of an author, and only the asked-for kinds past the product cap', async () => {
    // One author, many kinds (some with a single event), interleaved in time.
    const kinds = [0, 1, 3, 7, 1311, 10002, 30311, 65535]
    const many = Array.from({ length: 80 }, (_, i) => note({ pubkey: CAROL, kind: kinds[(i * 5) % kinds.length], created_at: T0 + 1000 + i }))
    const all = [...events, ...many]
    await load(all)
    for (const f of [{ authors: [CAROL], limit: 30 }, { authors: [CAROL] }, { authors: [CAROL, ALICE], since: T0 + 1050, limit: 12 }]) {
      expect(run(f).ids).toEqual(brute(all, f))
    }
    const crowd = Array.from({ length: 120 }, (_, i) => hex64(1000 + i))
    const capped = { authors: [...crowd, CAROL], kinds: [7, 10002, 3, 999], limit: 15 }
    const { ids, counts } = run(capped)
    expect(ids).toEqual(brute(all, capped))
    expect(counts.events).toBe(15) // covered: no candidate read to check its kind
    await load(events)
  })

  it("read 'seq': a covered filter reads keys only, an uncovered one still reads what it must match", () => {
    const covered = { authors: [ALICE], limit: 10 }
    const a = countingSource()
    const hits = runFilter(a.source, covered, planFilter(covered), T0, 'seq')
    expect(hits.map((h) => h.id)).toEqual(brute(events, covered))
    expect(hits.every((h) => h.json === undefined && idAt[h.seq] === h.id)).toBe(true)
    expect(a.counts.events).toBe(0)
    const uncovered = { authors: [ALICE], kinds: [KIND_LIVE_CHAT], '#t': ['odd'], limit: 5 }
    const b = countingSource()
    expect(runFilter(b.source, uncovered, planFilter(uncovered), T0, 'seq').map((h) => h.id)).toEqual(brute(events, uncovered))
    expect(b.counts.events).toBeGreaterThanOrEqual(5)
  })

  it('a filter with conditions left over reads only until `limit` matched', () => {
    const f = { authors: [ALICE], '#t': ['seven'], limit: 3 }
    const { ids, counts } = run(f)
    expect(ids).toEqual(brute(events, f))
    // The t index (one prefix) drives; each candidate is read once; none after the 3rd match.
    const candidates = brute(events, { '#t': ['seven'] })
    expect(counts.events).toBe(candidates.indexOf(ids[2]) + 1)
  })

  it('merges several values newest first, reading one key ahead per value at most', () => {
    const f = { '#t': ['seven', 'odd', 'even'], limit: 7 }
    const { ids, counts } = run(f)
    expect(ids).toEqual(brute(events, f))
    expect(counts.keys).toBeLessThanOrEqual(7 + 3)
    expect(counts.opened).toBe(3)
    // Three authors with two kinds each: six ranges, after three seeks per author to find them.
    const byAuthors = { authors: [CAROL, ALICE, BOB], limit: 7 }
    const a = run(byAuthors)
    expect(a.ids).toEqual(brute(events, byAuthors))
    expect(a.counts.opened).toBe(3 * 3 + 6)
    expect(a.counts.keys).toBeLessThanOrEqual(7 + 6 + 6)
  })

  it('respects since and until, both inclusive', () => {
    for (const f of [{ since: T0 + 198 }, { until: T0 + 1 }, { since: T0 + 50, until: T0 + 50 }, { kinds: [KIND_LIVE_CHAT], since: T0 + 190, until: T0 + 195 }]) {
      expect(run(f).ids).toEqual(brute(events, f))
    }
  })

  it('reads odd bounds, limits and values the way matchFilter and Array.slice do', () => {
    const sliced = (f: Filter): string[] => {
      const all = events.filter((e) => matchFilter(f, e)).sort(compareEvents)
      return (f.limit === undefined ? all : all.slice(0, Math.max(0, f.limit))).map((e) => e.id)
    }
    const odd: Filter[] = [
      { since: Number.NaN, limit: 3 },
      { until: Number.NaN, authors: [ALICE], limit: 2 },
      { since: -Infinity, limit: 2 },
      { until: Infinity, kinds: [KIND_LIVE_CHAT], limit: 2 },
      { since: Infinity },
      { until: -Infinity },
      { since: T0 + 10.5, until: T0 + 12.5 },
      { limit: 2.7 },
      { limit: -1 },
      { limit: Number.NaN },
      { authors: ['\0', 'x'.repeat(100) + '\x01', ALICE], limit: 1 },
      { ids: [events[5].id, events[5].id, 'nope'] },
    ]
    for (const f of odd) expect(run(f).ids).toEqual(sliced(f))
  })

  it('returns an event matching several values of one filter once', async () => {
    const both = note({ created_at: T0 + 1000, tags: [['t', 'odd'], ['t', 'even']] })
    await load([...events, both])
    const f = { '#t': ['odd', 'even'], limit: 4 }
    expect(run(f).ids).toEqual(brute([...events, both], f))
    expect(countFilters(countingSource().source, [{ '#t': ['odd', 'even'] }], T0)).toBe(events.length + 1)
    await load(events)
  })

  it('counts covered filters from keys alone, reading no event', () => {
    const { source, counts } = countingSource()
    expect(countFilters(source, [{ authors: [ALICE, BOB] }], T0)).toBe(400)
    expect(countFilters(source, [{ authors: [ALICE] }, { kinds: [KIND_LIVE_CHAT] }], T0)).toBe(brute(events, { authors: [ALICE] }).length + 80)
    expect(counts.events).toBe(0)
    expect(countFilters(source, [{ authors: [ALICE], '#t': ['odd'] }], T0)).toBe(brute(events, { authors: [ALICE], '#t': ['odd'] }).length)
    expect(counts.events).toBeGreaterThan(0)
  })

  it('skips expired events using the key alone', async () => {
    const expiring = note({ created_at: T0 + 500, tags: [['expiration', String(T0 + 10)]] })
    await load([...events, expiring])
    const { source, counts } = countingSource()
    expect(runFilters(source, [{ limit: 1 }], T0 + 9, 'json').map((h) => h.id)).toEqual([expiring.id])
    expect(runFilters(source, [{ limit: 1 }], T0 + 10, 'json').map((h) => h.id)).toEqual(brute(events, { limit: 1 }))
    expect(counts.events).toBe(2) // the expired one was never read
    await load(events)
  })
})
