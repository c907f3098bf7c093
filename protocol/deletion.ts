import { formatCoordinate, getCoordinate as readCoordinate } from './coordinate.ts'
import { KIND_DELETION, isAddressableKind, isReplaceableKind } from './kinds.ts'
import { getAddress } from './replaceable.ts'
import type { NostrEvent } from './types.ts'

const EVENT_ID = /^[0-9a-f]{64}$/

/** A coordinate some event could occupy, written exactly as getAddress writes it. */
function isTargetAddress(value: string): boolean {
  const c = readCoordinate(value)
  if (!c || formatCoordinate(c) !== value) return false
  return isAddressableKind(c.kind) || (isReplaceableKind(c.kind) && c.identifier === '')
}

/**
 * What a NIP-09 deletion request (kind 5) points at: event ids from `e` tags and coordinates
 * from `a` tags. Only well-formed values are kept (lowercase 64-hex ids; coordinates of a
 * replaceable or addressable kind, as getAddress writes them), without duplicates.
 * Empty for any other kind.
 */
export function getDeletionTargets(del: NostrEvent): { ids: string[]; addresses: string[] } {
  const ids = new Set<string>()
  const addresses = new Set<string>()
  if (del.kind === KIND_DELETION) {
    for (const [name, value] of del.tags) {
      if (typeof value !== 'string') continue
      if (name === 'e' && EVENT_ID.test(value)) ids.add(value)
      else if (name === 'a' && isTargetAddress(value)) addresses.add(value)
    }
  }
  return { ids: [...ids], addresses: [...addresses] }
}

/**
 * Whether `del` deletes `target` under NIP-09: only the target's own author can delete it; an
 * `e` tag deletes that exact event; an `a` tag deletes the versions of that address created at or
 * before the deletion (newer versions survive). A deletion request is never itself deleted: NIP-09
 * says deleting a deletion has no effect, so the retraction stays on record.
 */
export function isDeletedBy(target: NostrEvent, del: NostrEvent): boolean {
  if (del.kind !== KIND_DELETION || target.kind === KIND_DELETION) return false
  if (del.pubkey !== target.pubkey) return false
  const { ids, addresses } = getDeletionTargets(del)
  if (ids.includes(target.id)) return true
  const address = getAddress(target)
  return address !== undefined && target.created_at <= del.created_at && addresses.includes(address)
}
