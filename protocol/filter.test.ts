import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  BASE_TIME,
  ID_POOL,
  PUBKEY_POOL,
  arbEvent,
  arbEventsAndFilters,
  arbFilter,
} from '../test/arbitraries.ts'
import {
  FilterError,
  compareEvents,
  getEffectiveLimit,
  isFilterEmptyResult,
  isSupportedTagKey,
  matchFilter,
  matchFilters,
  parseFilter,
} from './filter.ts'
import { KIND_LIVE_CHAT, KIND_LIVE_EVENT, KIND_SERVICE_METRICS } from './kinds.ts'
import { DEFAULT_LIMITS } from './limits.ts'
import type { Limits } from './limits.ts'
import type { Filter, NostrEvent } from './types.ts'

const RUNS = { numRuns: 1000 }

/**
 * The reference matcher, written from NIP-01's words rather than from filter.ts: every condition
 * present must hold; lists are sets; since/until are inclusive; `#x` wants a tag named x whose
 * first value is in the set; limit and search do not affect matching.
 */
function referenceMatch(filter: Filter, event: NostrEvent): boolean {
  const conditions: boolean[] = []
  for (const [key, value] of Object.entries(filter)) {
    if (value === undefined || key === 'limit' || key === 'search') continue
    if (key === 'since') conditions.push(event.created_at >= (value as number))
    else if (key === 'until') conditions.push(event.created_at <= (value as number))
    else if (key === 'ids') conditions.push(new Set(value as string[]).has(event.id))
    else if (key === 'authors') conditions.push(new Set(value as string[]).has(event.pubkey))
    else if (key === 'kinds') conditions.push(new Set(value as number[]).has(event.kind))
    else {
      const wanted = new Set(value as string[])
      const name = key.slice(1)
      conditions.push(event.tags.some(([tagName, first]) => tagName === name && first !== undefined && wanted.has(first)))
    }
  }
  return conditions.every(Boolean)
}

function reasonOf(run: () => unknown): string | undefined {
  try {
    run()
  } catch (err) {
    if (err instanceof FilterError) return err.reason
    throw err
  }
  return undefined
}

const event = (over: Partial<NostrEvent> = {}): NostrEvent => ({
  id: ID_POOL[0],
  pubkey: PUBKEY_POOL[0],
  created_at: BASE_TIME,
  kind: KIND_LIVE_EVENT,
  tags: [],
  content: '',
  sig: '0'.repeat(128),
  ...over,
})

describe('matchFilter', () => {
  it('agrees with the reference matcher for random events and filters', () => {
    let matched = 0
    fc.assert(
      fc.property(arbEventsAndFilters, ({ events, filters }) => {
        for (const e of events) {
          for (const f of filters) {
            expect(matchFilter(f, e)).toBe(referenceMatch(f, e))
            if (matchFilter(f, e)) matched++
          }
          expect(matchFilters(filters, e)).toBe(filters.some((f) => referenceMatch(f, e)))
        }
      }),
      RUNS,
    )
    // The arbitraries are useless if nothing ever matches.
    expect(matched).toBeGreaterThan(1000)
  })

  it('treats since and until as inclusive', () => {
    const e = event({ created_at: BASE_TIME + 5 })
    expect(matchFilter({ since: BASE_TIME + 5 }, e)).toBe(true)
    expect(matchFilter({ until: BASE_TIME + 5 }, e)).toBe(true)
    expect(matchFilter({ since: BASE_TIME + 5, until: BASE_TIME + 5 }, e)).toBe(true)
    expect(matchFilter({ since: BASE_TIME + 6 }, e)).toBe(false)
    expect(matchFilter({ until: BASE_TIME + 4 }, e)).toBe(false)
  })

  it('matches #status on the first value of a status tag only', () => {
    const live = event({ tags: [['status', 'live']] })
    expect(matchFilter({ kinds: [KIND_LIVE_EVENT], '#status': ['live'] }, live)).toBe(true)
    expect(matchFilter({ '#status': ['ended'] }, live)).toBe(false)
    expect(matchFilter({ '#status': ['live'] }, event({ tags: [['status'], ['title', 'live']] }))).toBe(false)
    expect(matchFilter({ '#status': ['live'] }, event({ tags: [['x', 'status', 'live']] }))).toBe(false)
  })

  it('needs every tag filter to hold, any value within one', () => {
    const e = event({ tags: [['t', 'music'], ['p', PUBKEY_POOL[1]]] })
    expect(matchFilter({ '#t': ['gaming', 'music'] }, e)).toBe(true)
    expect(matchFilter({ '#t': ['music'], '#p': [PUBKEY_POOL[1]] }, e)).toBe(true)
    expect(matchFilter({ '#t': ['music'], '#p': [PUBKEY_POOL[2]] }, e)).toBe(false)
    expect(matchFilter({ '#T': ['music'] }, e)).toBe(false)
  })

  it('survives empty tags and tags without a value', () => {
    const e = event({ tags: [[], ['t']] })
    expect(matchFilter({ '#t': ['music'] }, e)).toBe(false)
    expect(matchFilter({ kinds: [KIND_LIVE_EVENT] }, e)).toBe(true)
  })

  it('orders newest first, then lowest id (compareEvents)', () => {
    const older = event({ created_at: BASE_TIME, id: ID_POOL[0] })
    const newerHigh = event({ created_at: BASE_TIME + 1, id: ID_POOL[4] })
    const newerLow = event({ created_at: BASE_TIME + 1, id: ID_POOL[1] })
    expect([older, newerHigh, newerLow].sort(compareEvents)).toEqual([newerLow, newerHigh, older])
  })
})

describe('isSupportedTagKey', () => {
  it('accepts single letters and #status only', () => {
    expect(['#e', '#P', '#status'].every(isSupportedTagKey)).toBe(true)
    expect(['#', '#1', '#xy', '#Status', 'e', '#status2'].some(isSupportedTagKey)).toBe(false)
  })
})

describe('parseFilter', () => {
  it('returns every valid filter unchanged (round-trip through JSON)', () => {
    fc.assert(
      fc.property(arbFilter(), (filter) => {
        expect(parseFilter(JSON.parse(JSON.stringify(filter)))).toEqual(filter)
      }),
      RUNS,
    )
  })

  it('never throws anything but FilterError, and what it returns parses to itself', () => {
    const keys = ['ids', 'authors', 'kinds', 'since', 'until', 'limit', 'search', '#e', '#status', '#xy', 'foo']
    const arbJunk = fc.oneof(
      fc.anything({ withNullPrototype: true, withMap: true, withSet: true, withBoxedValues: true }),
      fc.dictionary(fc.constantFrom(...keys), fc.jsonValue()),
      fc.dictionary(fc.constantFrom(...keys), fc.array(fc.oneof(fc.constantFrom(...ID_POOL, 1, -1, 65536), fc.jsonValue()))),
    )
    fc.assert(
      fc.property(arbJunk, (x) => {
        let parsed: Filter
        try {
          parsed = parseFilter(x)
        } catch (err) {
          expect(err).toBeInstanceOf(FilterError)
          expect((err as FilterError).reason).toMatch(/^invalid: /)
          return
        }
        expect(parseFilter(parsed)).toEqual(parsed)
      }),
      RUNS,
    )
  })

  it('copies its input and drops nothing it accepted', () => {
    const ids = [ID_POOL[0]]
    const parsed = parseFilter({ ids, search: 'cats', '#status': ['live'] })
    expect(parsed).toEqual({ ids, search: 'cats', '#status': ['live'] })
    expect(parsed.ids).not.toBe(ids)
  })

  it('accepts exactly maxValuesPerFilter values in every list, refuses one more', () => {
    const arbCase = fc.record({
      n: fc.integer({ min: 0, max: 40 }),
      key: fc.constantFrom('ids', 'authors', 'kinds', '#e', '#status'),
    })
    fc.assert(
      fc.property(arbCase, ({ n, key }) => {
        const limits: Limits = { ...DEFAULT_LIMITS, maxValuesPerFilter: n }
        const value = key === 'kinds' ? KIND_LIVE_CHAT : key === 'authors' ? PUBKEY_POOL[0] : ID_POOL[0]
        expect(parseFilter({ [key]: Array(n).fill(value) }, limits)[key as 'ids']).toHaveLength(n)
        expect(reasonOf(() => parseFilter({ [key]: Array(n + 1).fill(value) }, limits))).toBe(
          `invalid: too many values in ${key} (${n + 1} > ${n})`,
        )
      }),
      RUNS,
    )
  })

  it('caps lists at 1000 values by default', () => {
    expect(parseFilter({ kinds: Array(1000).fill(1) }).kinds).toHaveLength(1000)
    expect(reasonOf(() => parseFilter({ kinds: Array(1001).fill(1) }))).toBe('invalid: too many values in kinds (1001 > 1000)')
  })

  it('clamps limit to maxLimit instead of refusing it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 100_000 }), (maxLimit, limit) => {
        const limits: Limits = { ...DEFAULT_LIMITS, maxLimit }
        expect(parseFilter({ limit }, limits).limit).toBe(Math.min(limit, maxLimit))
      }),
      RUNS,
    )
    expect(parseFilter({ limit: 5000 }).limit).toBe(5000)
    expect(parseFilter({ limit: 5001 }).limit).toBe(5000)
    expect(parseFilter({ limit: 0 }).limit).toBe(0)
  })

  it('keeps a NIP-50 search string without acting on it', () => {
    expect(parseFilter({ kinds: [KIND_LIVE_EVENT], search: 'chess' })).toEqual({ kinds: [KIND_LIVE_EVENT], search: 'chess' })
  })

  it('accepts the boundary values', () => {
    expect(parseFilter({ kinds: [0, 65535], since: 0, until: Number.MAX_SAFE_INTEGER })).toEqual({
      kinds: [0, 65535],
      since: 0,
      until: Number.MAX_SAFE_INTEGER,
    })
    expect(parseFilter({ '#e': [], '#t': [''] })).toEqual({ '#e': [], '#t': [''] })
    expect(parseFilter(Object.create(null))).toEqual({})
  })

  describe('says exactly what is wrong', () => {
    const cases: [string, unknown, string][] = [
      ['null', null, 'invalid: filter must be a JSON object'],
      ['an array', [], 'invalid: filter must be a JSON object'],
      ['a string', 'kinds', 'invalid: filter must be a JSON object'],
      ['a Map', new Map(), 'invalid: filter must be a JSON object'],
      ['an unknown key', { kinds: [1], foo: 1 }, 'invalid: unknown filter key "foo"'],
      ['a prototype key', JSON.parse('{"__proto__":{}}'), 'invalid: unknown filter key "__proto__"'],
      ['a long unknown key', { ['k'.repeat(40)]: 1 }, `invalid: unknown filter key "${'k'.repeat(32)}…"`],
      ['a multi-letter tag', { '#xy': ['a'] }, 'invalid: unsupported tag filter "#xy" (only single letters and #status)'],
      ['a bare #', { '#': ['a'] }, 'invalid: unsupported tag filter "#" (only single letters and #status)'],
      ['a digit tag', { '#1': ['a'] }, 'invalid: unsupported tag filter "#1" (only single letters and #status)'],
      ['ids not a list', { ids: ID_POOL[0] }, 'invalid: ids must be an array'],
      ['an upper-case id', { ids: [ID_POOL[4].toUpperCase()] }, 'invalid: ids must be 64-character lowercase hex'],
      ['an id prefix', { ids: ['abcd'] }, 'invalid: ids must be 64-character lowercase hex'],
      ['a 65-char id', { ids: [`${ID_POOL[0]}0`] }, 'invalid: ids must be 64-character lowercase hex'],
      ['a numeric id', { ids: [1] }, 'invalid: ids must be 64-character lowercase hex'],
      ['a bad author', { authors: ['npub1xyz'] }, 'invalid: authors must be 64-character lowercase hex'],
      ['authors not a list', { authors: {} }, 'invalid: authors must be an array'],
      ['a negative kind', { kinds: [-1] }, 'invalid: kinds must be integers from 0 to 65535'],
      ['a kind too big', { kinds: [65536] }, 'invalid: kinds must be integers from 0 to 65535'],
      ['a fractional kind', { kinds: [1.5] }, 'invalid: kinds must be integers from 0 to 65535'],
      ['a string kind', { kinds: ['1'] }, 'invalid: kinds must be integers from 0 to 65535'],
      ['a negative since', { since: -1 }, 'invalid: since must be a non-negative integer'],
      ['a string since', { since: '1700000000' }, 'invalid: since must be a non-negative integer'],
      ['a null until', { until: null }, 'invalid: until must be a non-negative integer'],
      ['a fractional until', { until: 1.5 }, 'invalid: until must be a non-negative integer'],
      ['an unsafe until', { until: 2 ** 53 }, 'invalid: until must be a non-negative integer'],
      ['a negative limit', { limit: -1 }, 'invalid: limit must be a non-negative integer'],
      ['an infinite limit', { limit: Infinity }, 'invalid: limit must be a non-negative integer'],
      ['a non-string search', { search: 1 }, 'invalid: search must be a string'],
      ['a tag list not a list', { '#e': 'x' }, 'invalid: #e must be an array'],
      ['a non-string tag value', { '#t': ['music', 1] }, 'invalid: #t values must be strings'],
      ['a null status value', { '#status': [null] }, 'invalid: #status values must be strings'],
    ]
    for (const [name, input, expected] of cases) {
      it(`refuses ${name}`, () => {
        expect(reasonOf(() => parseFilter(input))).toBe(expected)
      })
    }

    it('reports the first problem in key order', () => {
      expect(reasonOf(() => parseFilter({ since: -1, foo: 1 }))).toBe('invalid: since must be a non-negative integer')
      expect(reasonOf(() => parseFilter({ foo: 1, since: -1 }))).toBe('invalid: unknown filter key "foo"')
    })
  })
})

describe('getEffectiveLimit', () => {
  it('uses the default when none is given, and never exceeds maxLimit', () => {
    expect(getEffectiveLimit({})).toBe(DEFAULT_LIMITS.defaultLimit)
    expect(getEffectiveLimit({ limit: 0 })).toBe(0)
    expect(getEffectiveLimit({ limit: 20 })).toBe(20)
    expect(getEffectiveLimit({ limit: 1e9 })).toBe(DEFAULT_LIMITS.maxLimit)
    const limits: Limits = { ...DEFAULT_LIMITS, defaultLimit: 7, maxLimit: 3 }
    expect(getEffectiveLimit({}, limits)).toBe(3)
  })
})

describe('isFilterEmptyResult', () => {
  it('is true only when no event can ever match', () => {
    expect(isFilterEmptyResult({ ids: [] })).toBe(true)
    expect(isFilterEmptyResult({ authors: [] })).toBe(true)
    expect(isFilterEmptyResult({ kinds: [] })).toBe(true)
    expect(isFilterEmptyResult({ '#status': [] })).toBe(true)
    expect(isFilterEmptyResult({ since: 11, until: 10 })).toBe(true)
    expect(isFilterEmptyResult({})).toBe(false)
    expect(isFilterEmptyResult({ since: 10, until: 10 })).toBe(false)
    expect(isFilterEmptyResult({ limit: 0 })).toBe(false)
    expect(isFilterEmptyResult({ '#e': undefined })).toBe(false)
  })

  it('never claims emptiness for a filter some event matches', () => {
    fc.assert(
      fc.property(arbEventsAndFilters, fc.array(arbEvent(), { maxLength: 5 }), ({ events, filters }, more) => {
        for (const f of filters) {
          if (isFilterEmptyResult(f)) expect([...events, ...more].some((e) => matchFilter(f, e))).toBe(false)
        }
      }),
      RUNS,
    )
  })

  it('agrees with the reference on which filters are empty', () => {
    // Empty exactly when some list is empty or the window is inverted.
    fc.assert(
      fc.property(arbFilter(), (f) => {
        const emptyList = Object.entries(f).some(([, v]) => Array.isArray(v) && v.length === 0)
        const inverted = f.since !== undefined && f.until !== undefined && f.since > f.until
        expect(isFilterEmptyResult(f)).toBe(emptyList || inverted)
      }),
      RUNS,
    )
  })

  it('covers the metrics live-now query shape', () => {
    expect(isFilterEmptyResult({ kinds: [KIND_SERVICE_METRICS], '#status': ['live'] })).toBe(false)
  })
})
