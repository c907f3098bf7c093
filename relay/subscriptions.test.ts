import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { matchFilters } from '../protocol/filter.ts'
import type { Filter, NostrEvent } from '../protocol/types.ts'
import { createSubscriptionIndex } from './subscriptions.ts'

// Tiny alphabets so random filters and events actually meet.
const hex = fc.constantFrom('aa', 'bb', 'cc', 'dd')
const kind = fc.constantFrom(1, 7, 1311, 30311)
const tagName = fc.constantFrom('e', 'p', 'a', 'status')

const arbEvent: fc.Arbitrary<NostrEvent> = fc.record({
  id: hex,
  pubkey: hex,
  kind,
  created_at: fc.integer({ min: 0, max: 20 }),
  tags: fc.array(fc.tuple(tagName, hex).map(([n, v]) => [n, v]), { maxLength: 4 }),
  content: fc.constant(''),
  sig: fc.constant(''),
})

const arbFilter: fc.Arbitrary<Filter> = fc
  .record(
    {
      ids: fc.array(hex, { maxLength: 2 }),
      authors: fc.array(hex, { maxLength: 2 }),
      kinds: fc.array(kind, { maxLength: 2 }),
      since: fc.integer({ min: 0, max: 20 }),
      until: fc.integer({ min: 0, max: 20 }),
      tags: fc.dictionary(tagName.map((n) => `#${n}`), fc.array(hex, { maxLength: 2 }), { maxKeys: 2 }),
    },
    { requiredKeys: [] },
  )
  .map(({ tags, ...rest }) => ({ ...rest, ...tags }) as Filter)

const arbSubs = fc.array(fc.tuple(fc.constantFrom('s1', 's2', 's3', 's4', 's5'), fc.array(arbFilter, { minLength: 1, maxLength: 3 })), {
  maxLength: 12,
})

describe('subscription index', () => {
  it('invariant: match(event) is exactly the subscriptions whose filters match it, each once', () => {
    fc.assert(
      fc.property(arbSubs, fc.array(arbEvent, { minLength: 1, maxLength: 5 }), (subs, events) => {
        const index = createSubscriptionIndex<string>()
        const latest = new Map<string, Filter[]>() // same key replaces
        for (const [key, filters] of subs) {
          index.add(key, filters, key)
          latest.set(key, filters)
        }
        expect(index.size).toBe(latest.size)
        for (const event of events) {
          const got = index.match(event).map((s) => s.key)
          const want = [...latest].filter(([, f]) => matchFilters(f, event)).map(([k]) => k)
          expect(new Set(got).size).toBe(got.length)
          expect(got.sort()).toEqual(want.sort())
        }
      }),
      { numRuns: 1000 },
    )
  })

  it('invariant: removing every subscription leaves no index entry behind', () => {
    fc.assert(
      fc.property(arbSubs, fc.array(arbEvent, { maxLength: 3 }), (subs, events) => {
        const index = createSubscriptionIndex<string>()
        for (const [key, filters] of subs) index.add(key, filters, key)
        for (const key of new Set(subs.map(([k]) => k))) expect(index.remove(key)).toBe(true)
        expect(index.size).toBe(0)
        expect(index.indexEntries()).toBe(0)
        for (const event of events) expect(index.match(event)).toEqual([])
      }),
      { numRuns: 1000 },
    )
  })

  it('replacing a subscription drops the old filters', () => {
    const index = createSubscriptionIndex<string>()
    index.add('x', [{ kinds: [1] }], 'old')
    index.add('x', [{ authors: ['bb'] }], 'new')
    const note: NostrEvent = { id: 'aa', pubkey: 'cc', kind: 1, created_at: 1, tags: [], content: '', sig: '' }
    expect(index.match(note)).toEqual([])
    expect(index.match({ ...note, pubkey: 'bb' }).map((s) => s.target)).toEqual(['new'])
    expect(index.indexEntries()).toBe(1)
    expect(index.remove('x')).toBe(true)
    expect(index.remove('x')).toBe(false)
  })

  it('files a filter under one field only, so an unrelated event checks no candidate', () => {
    const index = createSubscriptionIndex<string>()
    index.add('chat', [{ kinds: [1311], '#a': ['30311:host:d'] }], 'chat')
    expect(index.indexEntries()).toBe(1)
    const other: NostrEvent = { id: 'aa', pubkey: 'cc', kind: 1311, created_at: 1, tags: [['a', '30311:host:other']], content: '', sig: '' }
    expect(index.match(other)).toEqual([])
    expect(index.match({ ...other, tags: [['a', '30311:host:d']] }).map((s) => s.key)).toEqual(['chat'])
  })
})
