import { isExpired } from '../../protocol/expiration.ts'
import { compareEvents, matchFilter } from '../../protocol/filter.ts'
import type { Filter, NostrEvent } from '../../protocol/types.ts'
import { INDEX, STATUS_KINDS, STATUS_TAG, getKeyString, invertTime, isIndexedTagName } from './index-keys.ts'
import type { IndexKey } from './index-keys.ts'

/**
 * How one filter is answered: by direct id lookups, or by scanning one index, one key range per
 * filter value, and merging the ranges. Every index keeps compareEvents order inside a range,
 * so the merge yields candidates newest first and the scan stops as soon as `limit` matched.
 */
export type Plan = { type: 'empty' } | { type: 'ids'; ids: string[] } | ScanPlan

/**
 * `covered`: the index alone proves a match, so candidates need not be read or parsed.
 * `byKind`: the prefixes are [ak, author], and each becomes [ak, author, kind] at run time for
 * every kind the author has keys under (only `kinds`, when given), found by skip-scan: a range
 * must be in compareEvents order, and one author's keys are ordered by kind first.
 */
export interface ScanPlan {
  type: 'scan'
  index: string
  prefixes: IndexKey[]
  covered: boolean
  byKind?: { kinds?: number[] }
}

/** Above this many ranges a cheaper-to-open index is preferred (authors × kinds can explode). */
const MAX_PRODUCT_PREFIXES = 256

const unique = <T>(values: T[]): T[] => [...new Set(values)]

/** The tag conditions of a filter: `#x` keys whose value list is present. */
function getTagConditions(filter: Filter): [name: string, values: string[]][] {
  const out: [string, string[]][] = []
  for (const key in filter) {
    if (key[0] !== '#') continue
    const values = filter[key as `#${string}`]
    if (values) out.push([key.slice(1), values])
  }
  return out
}

/** Picks the most selective index for a filter (ids; authors × kinds; a tag; authors, by kind; kinds; time). */
export function planFilter(filter: Filter): Plan {
  const { ids, authors, kinds, since, until } = filter
  const tags = getTagConditions(filter)
  if (ids?.length === 0 || authors?.length === 0 || kinds?.length === 0) return { type: 'empty' }
  if (tags.some(([, values]) => values.length === 0)) return { type: 'empty' }
  if (since !== undefined && until !== undefined && since > until) return { type: 'empty' }
  if (ids) return { type: 'ids', ids: unique(ids) }

  // Conditions an index leaves to matchFilter; since/until are always range bounds.
  const rest = (coversAuthors: boolean, coversKinds: boolean, coveredTag?: string): boolean =>
    (authors !== undefined && !coversAuthors) ||
    (kinds !== undefined && !coversKinds) ||
    tags.some(([name]) => name !== coveredTag)
  const scan = (index: string, prefixes: IndexKey[], covered: boolean): ScanPlan => ({ type: 'scan', index, prefixes, covered })

  const byAuthor = (): ScanPlan => ({
    ...scan(INDEX.authorKind, unique(authors!.map(getKeyString)).map((a) => [INDEX.authorKind, a]), !rest(true, true)),
    byKind: kinds ? { kinds: unique(kinds) } : {},
  })
  if (authors && kinds && authors.length * kinds.length <= MAX_PRODUCT_PREFIXES) {
    const prefixes = unique(authors.map(getKeyString)).flatMap((a) => unique(kinds).map((k) => [INDEX.authorKind, a, k]))
    return scan(INDEX.authorKind, prefixes, !rest(true, true))
  }

  let best: ScanPlan | undefined
  for (const [name, values] of tags) {
    let candidate: ScanPlan | undefined
    if (isIndexedTagName(name)) {
      const prefixes = unique(values.map(getKeyString)).map((v) => [INDEX.tag, name, v])
      candidate = scan(INDEX.tag, prefixes, !rest(false, false, name))
    } else if (name === STATUS_TAG && kinds?.every((k) => STATUS_KINDS.includes(k))) {
      // Only these kinds' statuses are indexed, so only a filter limited to them may use it.
      const keyValues = unique(values.map(getKeyString))
      const prefixes = unique(kinds).flatMap((k) => keyValues.map((v) => [INDEX.status, k, v]))
      candidate = scan(INDEX.status, prefixes, !rest(false, true, name))
    }
    if (candidate && (!best || candidate.prefixes.length < best.prefixes.length)) best = candidate
  }
  if (best) return best
  if (authors) return byAuthor()
  if (kinds) return scan(INDEX.kind, unique(kinds).map((k) => [INDEX.kind, k]), !rest(false, true))
  return scan(INDEX.created, [[INDEX.created]], !rest(false, false))
}

// ---------------------------------------------------------------------------------------------
// Ranges

const f64 = new Float64Array(1)
const i64 = new BigInt64Array(f64.buffer)

/** The smallest double above x: an exclusive end that still includes every key at x. */
function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE
  if (x === Infinity) return x
  f64[0] = x
  i64[0] += x > 0 ? 1n : -1n
  return f64[0]
}

/** Sorts after every number, so it closes a prefix whose next element is inv(created_at). */
export const AFTER_NUMBERS = '\uffff'

/**
 * The [start, end) of one value's keys within since/until (both inclusive, as NIP-01 says).
 * A NaN bound excludes nothing, as in matchFilter.
 */
export function getRange(prefix: IndexKey, since: number | undefined, until: number | undefined): [IndexKey, IndexKey] {
  const start = until === undefined || Number.isNaN(until) ? prefix : [...prefix, invertTime(until)]
  const end = since === undefined || Number.isNaN(since) ? [...prefix, AFTER_NUMBERS] : [...prefix, nextUp(invertTime(since))]
  return [start, end]
}

// ---------------------------------------------------------------------------------------------
// Execution

/** What the plan reads from: an LMDB snapshot in the store, anything in tests. */
export interface IndexSource {
  /** Keys in [start, end), ascending. The caller ends early with `return()`. */
  keys(start: IndexKey, end: IndexKey): Iterator<IndexKey>
  /** Where the event with this id is stored (the `ids` plan). */
  seqOf(id: string): number | undefined
  /** The stored JSON at a sequence number, as index keys carry it (scans: no id lookup). */
  jsonAt(seq: number): string | undefined
}

/**
 * What a hit carries besides its order and seq: the parsed event, the stored JSON, or nothing
 * read that the plan did not need (a covered scan then reads no event at all; the caller reads
 * the bodies it sends, as bytes).
 */
export type Read = 'event' | 'json' | 'seq'

/** One result: its order (inv, id), where it is stored, and what `Read` asked for. */
export interface Hit {
  inv: number
  id: string
  seq: number
  json?: string
  event?: NostrEvent
}

interface Head {
  it: Iterator<IndexKey>
  key: IndexKey
}

/**
 * Visits the keys of every range in compareEvents order, each event once, until `visit`
 * returns false. `p` is where inv(created_at) sits in the keys; id and seq follow, then the
 * optional expiration. Every cursor is closed before returning.
 */
export function scanMerged(
  source: IndexSource,
  ranges: [IndexKey, IndexKey][],
  p: number,
  visit: (id: string, inv: number, seq: number, expiration: number | undefined) => boolean,
): void {
  if (ranges.length === 1) {
    const it = source.keys(ranges[0][0], ranges[0][1])
    try {
      for (let r = it.next(); !r.done; r = it.next()) {
        const key = r.value
        if (!visit(key[p + 1] as string, key[p] as number, key[p + 2] as number, key[p + 3] as number | undefined)) return
      }
    } finally {
      it.return?.()
    }
    return
  }

  const less = (a: IndexKey, b: IndexKey): boolean =>
    (a[p] as number) < (b[p] as number) || (a[p] === b[p] && (a[p + 1] as string) < (b[p + 1] as string))
  const heap: Head[] = []
  const down = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < heap.length && less(heap[l].key, heap[m].key)) m = l
      if (r < heap.length && less(heap[r].key, heap[m].key)) m = r
      if (m === i) return
      ;[heap[i], heap[m]] = [heap[m], heap[i]]
      i = m
    }
  }
  const open: Iterator<IndexKey>[] = []
  try {
    for (const [start, end] of ranges) {
      const it = source.keys(start, end)
      open.push(it)
      const r = it.next()
      if (!r.done) heap.push({ it, key: r.value })
    }
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i)
    let lastId: string | undefined
    while (heap.length > 0) {
      const head = heap[0]
      const key = head.key
      const id = key[p + 1] as string
      // An event under several of the filter's values comes out of each range, adjacently.
      if (id !== lastId) {
        lastId = id
        if (!visit(id, key[p] as number, key[p + 2] as number, key[p + 3] as number | undefined)) return
      }
      const r = head.it.next()
      if (r.done) {
        heap[0] = heap[heap.length - 1]
        heap.pop()
      } else head.key = r.value
      if (heap.length > 0) down(0)
    }
  } finally {
    for (const it of open) it.return?.()
  }
}

/** Where inv(created_at) sits in an index's keys: after the index name and its values. */
const TIME_POSITION: Record<string, number> = {
  [INDEX.created]: 1,
  [INDEX.kind]: 2,
  [INDEX.authorKind]: 3,
  [INDEX.tag]: 3,
  [INDEX.status]: 3,
}

const EMPTY_MATCHES = (): never[] => []

/** The kinds under [ak, author] in ascending order: one seek each, past the previous kind's keys. */
function getAuthorKinds(source: IndexSource, author: IndexKey[number]): number[] {
  const kinds: number[] = []
  const end: IndexKey = [INDEX.authorKind, author, AFTER_NUMBERS]
  let start: IndexKey = [INDEX.authorKind, author]
  for (;;) {
    const it = source.keys(start, end)
    const r = it.next()
    it.return?.()
    if (r.done) return kinds
    const kind = r.value[2] as number
    kinds.push(kind)
    start = [INDEX.authorKind, author, nextUp(kind)]
  }
}

/** A scan's prefixes, with `byKind` ones expanded into one per kind (see ScanPlan). */
function getPrefixes(source: IndexSource, plan: ScanPlan): IndexKey[] {
  const { byKind } = plan
  if (!byKind) return plan.prefixes
  const wanted = byKind.kinds && new Set(byKind.kinds)
  return plan.prefixes.flatMap(([, author]) =>
    getAuthorKinds(source, author)
      .filter((k) => !wanted || wanted.has(k))
      .map((k) => [INDEX.authorKind, author, k]),
  )
}

/** How many matches a filter keeps: as Array.slice(0, limit) reads it, so every store agrees. */
function getLimit(filter: Filter): number {
  if (filter.limit === undefined) return Infinity
  const n = Math.trunc(filter.limit)
  return n > 0 ? n : 0
}

/**
 * The newest `limit` matches of one filter (all when there is no limit), in compareEvents
 * order. Expired events are skipped using `now`.
 */
export function runFilter(source: IndexSource, filter: Filter, plan: Plan, now: number, read: Read): Hit[] {
  const limit = getLimit(filter)
  if (plan.type === 'empty' || limit === 0) return EMPTY_MATCHES()
  if (plan.type === 'ids') {
    const hits: Hit[] = []
    const seen = new Set<string>()
    for (const id of plan.ids) {
      const seq = source.seqOf(id)
      if (seq === undefined) continue
      const json = readJson(source, id, seq)
      const event = JSON.parse(json) as NostrEvent
      if (seen.has(event.id) || isExpired(event, now) || !matchFilter(filter, event)) continue
      seen.add(event.id)
      hits.push({ inv: invertTime(event.created_at), id: event.id, seq, json, event })
    }
    hits.sort((a, b) => compareEvents(a.event!, b.event!))
    return hits.length > limit ? hits.slice(0, limit) : hits
  }

  const hits: Hit[] = []
  const ranges = getPrefixes(source, plan).map((prefix) => getRange(prefix, filter.since, filter.until))
  scanMerged(source, ranges, TIME_POSITION[plan.index], (id, inv, seq, expiration) => {
    if (expiration !== undefined && expiration <= now) return true
    if (plan.covered) {
      if (read === 'seq') hits.push({ inv, id, seq })
      else {
        const json = readJson(source, id, seq)
        hits.push(read === 'event' ? { inv, id, seq, json, event: JSON.parse(json) as NostrEvent } : { inv, id, seq, json })
      }
    } else {
      const json = readJson(source, id, seq)
      const event = JSON.parse(json) as NostrEvent
      if (!matchFilter(filter, event)) return true
      hits.push({ inv, id, seq, json, event })
    }
    return hits.length < limit
  })
  return hits
}

/**
 * The ids of every match of one filter, limits ignored, in compareEvents order. Covered scans
 * touch keys only: no event is read.
 */
export function runCount(source: IndexSource, filter: Filter, plan: Plan, now: number, visit: (id: string) => void): void {
  if (plan.type === 'empty') return
  if (plan.type === 'ids') {
    for (const hit of runFilter(source, { ...filter, limit: undefined }, plan, now, 'seq')) visit(hit.id)
    return
  }
  const ranges = getPrefixes(source, plan).map((prefix) => getRange(prefix, filter.since, filter.until))
  scanMerged(source, ranges, TIME_POSITION[plan.index], (id, _inv, seq, expiration) => {
    if (expiration !== undefined && expiration <= now) return true
    if (plan.covered || matchFilter(filter, JSON.parse(readJson(source, id, seq)) as NostrEvent)) visit(id)
    return true
  })
}

/** Answers a REQ's filters: each filter's newest `limit`, merged without duplicates, newest first. */
export function runFilters(source: IndexSource, filters: Filter[], now: number, read: Read): Hit[] {
  const perFilter = filters.map((f) => runFilter(source, f, planFilter(f), now, read))
  if (perFilter.length === 1) return perFilter[0]
  const byId = new Map<string, Hit>()
  for (const hits of perFilter) for (const hit of hits) if (!byId.has(hit.id)) byId.set(hit.id, hit)
  return [...byId.values()].sort(compareHits)
}

/** The number of distinct events matching any filter, limits ignored. */
export function countFilters(source: IndexSource, filters: Filter[], now: number): number {
  if (filters.length === 1) {
    let n = 0
    runCount(source, filters[0], planFilter(filters[0]), now, () => n++)
    return n
  }
  const ids = new Set<string>()
  for (const f of filters) runCount(source, f, planFilter(f), now, (id) => ids.add(id))
  return ids.size
}

export const compareHits = (a: Hit, b: Hit): number => a.inv - b.inv || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

function readJson(source: IndexSource, id: string, seq: number): string {
  const json = source.jsonAt(seq)
  // An index key without its event is a bug in save/delete, not a state to paper over.
  if (json === undefined) throw new Error(`index names event ${id} at ${seq}, which is not stored`)
  return json
}
