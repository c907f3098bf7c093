import { formatCoordinate, getEventCoordinate } from './coordinate.ts'
import type { NostrEvent } from './types.ts'

/**
 * The slot a replaceable or addressable event occupies, as its NIP-01 `a` coordinate:
 * `"<kind>:<pubkey>:"` for replaceable kinds, `"<kind>:<pubkey>:<d>"` for addressable ones
 * (d = the first `d` tag's value, '' without one). Undefined for regular and ephemeral kinds,
 * which never replace anything.
 */
export function getAddress(event: NostrEvent): string | undefined {
  const coordinate = getEventCoordinate(event)
  return coordinate && formatCoordinate(coordinate)
}

/**
 * Whether `a` beats `b` for the same address: newer created_at wins; on a tie the lowest id
 * wins (NIP-01), so every store keeps the same version whatever order they arrive in.
 * False for the same event.
 */
export function isNewerVersion(a: NostrEvent, b: NostrEvent): boolean {
  return a.created_at > b.created_at || (a.created_at === b.created_at && a.id < b.id)
}

/** The version that survives among versions of one address; undefined for none. */
export function pickWinner(events: Iterable<NostrEvent>): NostrEvent | undefined {
  let winner: NostrEvent | undefined
  for (const e of events) if (!winner || isNewerVersion(e, winner)) winner = e
  return winner
}
