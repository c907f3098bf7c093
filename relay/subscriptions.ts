import { matchFilter } from '../protocol/filter.ts'
import type { Filter, NostrEvent } from '../protocol/types.ts'

/**
 * Live subscriptions, indexed so that a new event finds its candidate subscriptions by lookup
 * (strfry's monitor): each filter is filed under the values of ONE of its fields — ids, else
 * authors, else a tag, else kinds — because an event can only match a filter if it carries one
 * of those values. Candidates are then checked exactly with matchFilter.
 */
export interface Subscription<T> {
  readonly key: string
  readonly filters: Filter[]
  readonly target: T
}

export interface SubscriptionIndex<T> {
  /** Adds or replaces (same key) a subscription. */
  add(key: string, filters: Filter[], target: T): void
  /** Removes a subscription and every index entry it made. Returns whether it existed. */
  remove(key: string): boolean
  get(key: string): Subscription<T> | undefined
  /** Subscriptions with at least one filter matching the event, each once. */
  match(event: NostrEvent): Subscription<T>[]
  readonly size: number
  /** Number of index entries (buckets); 0 when no subscription is left. For tests and metrics. */
  indexEntries(): number
}

interface Entry<T> {
  sub: Subscription<T>
  filter: Filter
}
type Bucket<T> = Set<Entry<T>>
type Buckets<T> = Map<string, Bucket<T>>

interface Registration<T> {
  buckets: Buckets<T> | undefined // undefined: the catch-all set
  value: string
  entry: Entry<T>
}

// Tag buckets are keyed "name\0value"; a collision could only add a candidate, never lose one.
const tagKey = (name: string, value: string): string => `${name}\0${value}`

export function createSubscriptionIndex<T>(): SubscriptionIndex<T> {
  const subs = new Map<string, { sub: Subscription<T>; regs: Registration<T>[] }>()
  const byId: Buckets<T> = new Map()
  const byAuthor: Buckets<T> = new Map()
  const byTag: Buckets<T> = new Map()
  const byKind: Buckets<T> = new Map()
  const catchAll: Bucket<T> = new Set()

  function file(buckets: Buckets<T>, value: string, entry: Entry<T>, regs: Registration<T>[]): void {
    let bucket = buckets.get(value)
    if (!bucket) buckets.set(value, (bucket = new Set()))
    bucket.add(entry)
    regs.push({ buckets, value, entry })
  }

  function indexFilter(entry: Entry<T>, regs: Registration<T>[]): void {
    const f = entry.filter
    // An empty list matches nothing, so it files nothing.
    if (f.ids) {
      for (const id of new Set(f.ids)) file(byId, id, entry, regs)
      return
    }
    if (f.authors) {
      for (const a of new Set(f.authors)) file(byAuthor, a, entry, regs)
      return
    }
    for (const key in f) {
      const list = key[0] === '#' ? f[key as `#${string}`] : undefined
      if (!list) continue
      const name = key.slice(1)
      for (const v of new Set(list)) file(byTag, tagKey(name, v), entry, regs)
      return
    }
    if (f.kinds) {
      for (const k of new Set(f.kinds)) file(byKind, String(k), entry, regs)
      return
    }
    catchAll.add(entry)
    regs.push({ buckets: undefined, value: '', entry })
  }

  function remove(key: string): boolean {
    const found = subs.get(key)
    if (!found) return false
    subs.delete(key)
    for (const { buckets, value, entry } of found.regs) {
      if (!buckets) {
        catchAll.delete(entry)
        continue
      }
      const bucket = buckets.get(value)
      if (!bucket) continue
      bucket.delete(entry)
      if (bucket.size === 0) buckets.delete(value)
    }
    return true
  }

  return {
    add(key, filters, target) {
      remove(key)
      const sub: Subscription<T> = { key, filters, target }
      const regs: Registration<T>[] = []
      for (const filter of filters) indexFilter({ sub, filter }, regs)
      subs.set(key, { sub, regs })
    },
    remove,
    get: (key) => subs.get(key)?.sub,
    match(event) {
      const found = new Set<Subscription<T>>()
      const check = (bucket: Bucket<T> | undefined): void => {
        if (!bucket) return
        for (const { sub, filter } of bucket) {
          if (!found.has(sub) && matchFilter(filter, event)) found.add(sub)
        }
      }
      check(byId.get(event.id))
      check(byAuthor.get(event.pubkey))
      check(byKind.get(String(event.kind)))
      if (byTag.size > 0) {
        for (const tag of event.tags) if (tag.length > 1) check(byTag.get(tagKey(tag[0], tag[1])))
      }
      check(catchAll)
      return [...found]
    },
    get size() {
      return subs.size
    },
    indexEntries: () => byId.size + byAuthor.size + byTag.size + byKind.size + catchAll.size,
  }
}
