import type { NostrEvent } from './types.ts'

/**
 * The NIP-40 expiration: the first `expiration` tag as integer unix seconds. Undefined when there
 * is none or it is malformed (not a plain non-negative decimal integer), so a bad tag never makes
 * an event vanish.
 */
export function getExpiration(event: NostrEvent): number | undefined {
  const value = event.tags.find((t) => t[0] === 'expiration')?.[1]
  if (value === undefined || !/^[0-9]+$/.test(value)) return undefined
  const seconds = Number(value)
  return Number.isSafeInteger(seconds) ? seconds : undefined
}

/**
 * Whether the event has expired at `now` (unix seconds). NIP-40 says an event is expired once
 * its timestamp is in the past; at second resolution we count the expiration second itself as
 * past (`expiration <= now`), so an event with `expiration = now` is refused and never served.
 */
export function isExpired(event: NostrEvent, now: number): boolean {
  const expiration = getExpiration(event)
  return expiration !== undefined && expiration <= now
}
