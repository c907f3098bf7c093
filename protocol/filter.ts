import type { Filter, NostrEvent } from './types.ts'

/**
 * Tag filter keys we answer: NIP-01's single letters, plus our multi-letter `#status`
 * extension (indexed by the relay for 30311 and 31337 live-now queries).
 */
export function isSupportedTagKey(key: string): boolean {
  return /^#[a-zA-Z]$/.test(key) || key === '#status'
}

/** Whether one event matches one filter. since/until are inclusive; limit is ignored here. */
export function matchFilter(filter: Filter, event: NostrEvent): boolean {
  if (filter.ids && !filter.ids.includes(event.id)) return false
  if (filter.kinds && !filter.kinds.includes(event.kind)) return false
  if (filter.authors && !filter.authors.includes(event.pubkey)) return false
  if (filter.since !== undefined && event.created_at < filter.since) return false
  if (filter.until !== undefined && event.created_at > filter.until) return false
  for (const key in filter) {
    if (key[0] !== '#') continue
    const values = filter[key as `#${string}`]
    if (!values) continue
    const name = key.slice(1)
    if (!event.tags.some((t) => t[0] === name && t.length > 1 && values.includes(t[1]))) return false
  }
  return true
}

/** Whether an event matches any of the filters (a REQ's filters are OR-ed). */
export function matchFilters(filters: Filter[], event: NostrEvent): boolean {
  return filters.some((f) => matchFilter(f, event))
}

/** Newest first; ties broken by lowest id, so every store returns the same order. */
export function compareEvents(a: NostrEvent, b: NostrEvent): number {
  return b.created_at - a.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
}
