import { DEFAULT_LIMITS } from './limits.ts'
import type { Limits } from './limits.ts'
import { invalid } from './reasons.ts'
import type { Rejection } from './reasons.ts'
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

/** A filter the parser refused; `reason` is the `invalid: …` text for CLOSED or NOTICE. */
export class FilterError extends Error {
  override readonly name = 'FilterError'
  readonly reason: Rejection

  constructor(reason: Rejection, options?: ErrorOptions) {
    super(reason, options)
    this.reason = reason
  }
}

const HEX64 = /^[0-9a-f]{64}$/
const MAX_KIND = 65535

/**
 * Checks an untrusted filter (parsed JSON) against NIP-01 and the caps, and returns a fresh
 * copy holding only known keys. `limit` above `maxLimit` is clamped, not refused. `search`
 * (NIP-50) is kept but not acted on. Throws FilterError with the first problem found.
 */
export function parseFilter(x: unknown, limits: Limits = DEFAULT_LIMITS): Filter {
  if (!isPlainObject(x)) throw new FilterError(invalid('filter must be a JSON object'))
  const filter: Filter = {}
  for (const key of Object.keys(x)) {
    const value = x[key]
    switch (key) {
      case 'ids':
      case 'authors':
        filter[key] = parseList(key, value, limits, isHex64, 'must be 64-character lowercase hex')
        break
      case 'kinds':
        filter.kinds = parseList(key, value, limits, isKind, `must be integers from 0 to ${MAX_KIND}`)
        break
      case 'since':
      case 'until':
        filter[key] = parseCount(key, value)
        break
      case 'limit':
        filter.limit = Math.min(parseCount(key, value), limits.maxLimit)
        break
      case 'search':
        if (typeof value !== 'string') throw new FilterError(invalid('search must be a string'))
        filter.search = value
        break
      default:
        if (key[0] !== '#') throw new FilterError(invalid(`unknown filter key ${quote(key)}`))
        if (!isSupportedTagKey(key)) {
          throw new FilterError(invalid(`unsupported tag filter ${quote(key)} (only single letters and #status)`))
        }
        filter[key as `#${string}`] = parseList(key, value, limits, isString, 'values must be strings')
    }
  }
  return filter
}

/** How many stored events to send for a filter: its own limit or the default, capped. */
export function getEffectiveLimit(filter: Filter, limits: Limits = DEFAULT_LIMITS): number {
  return Math.min(filter.limit ?? limits.defaultLimit, limits.maxLimit)
}

/**
 * Whether a filter can never match any event, stored or future (an empty list, since > until),
 * so the relay can skip the query and the subscription. `limit: 0` is not such a filter: it
 * only skips stored events, new ones still match.
 */
export function isFilterEmptyResult(filter: Filter): boolean {
  if (filter.since !== undefined && filter.until !== undefined && filter.since > filter.until) return true
  for (const key in filter) {
    if (key !== 'ids' && key !== 'authors' && key !== 'kinds' && key[0] !== '#') continue
    const values = filter[key as 'ids' | `#${string}`]
    if (values && values.length === 0) return true
  }
  return false
}

function parseList<T>(
  key: string,
  value: unknown,
  limits: Limits,
  isValid: (v: unknown) => v is T,
  rule: string,
): T[] {
  if (!Array.isArray(value)) throw new FilterError(invalid(`${key} must be an array`))
  if (value.length > limits.maxValuesPerFilter) {
    throw new FilterError(invalid(`too many values in ${key} (${value.length} > ${limits.maxValuesPerFilter})`))
  }
  const out = new Array<T>(value.length)
  for (let i = 0; i < value.length; i++) {
    const v: unknown = value[i]
    if (!isValid(v)) throw new FilterError(invalid(`${key} ${rule}`))
    out[i] = v
  }
  return out
}

function parseCount(key: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new FilterError(invalid(`${key} must be a non-negative integer`))
  }
  return value
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null) return false
  const proto: unknown = Object.getPrototypeOf(x)
  return proto === Object.prototype || proto === null
}

const isString = (v: unknown): v is string => typeof v === 'string'
const isHex64 = (v: unknown): v is string => typeof v === 'string' && HEX64.test(v)
const isKind = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_KIND

/** A key for an error message: JSON-quoted so odd characters show, cut so it stays short. */
const quote = (key: string): string => JSON.stringify(key.length > 32 ? `${key.slice(0, 32)}…` : key)
