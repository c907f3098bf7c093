import { formatCoordinate, getCoordinate } from './coordinate.ts'
import type { Coordinate } from './coordinate.ts'
import { KIND_LIVE_EVENT, KIND_PRESENCE } from './kinds.ts'
import type { EventTemplate } from './types.ts'

/**
 * NIP-53 presence (10312): a logged-in viewer says which stream they are watching. It is
 * replaceable, so a viewer is present in at most one stream at a time, and a client refreshes it
 * every few minutes while watching; the relay counts recent ones as viewers.
 */
export function buildPresence(coordinate: Coordinate, created_at: number = Math.floor(Date.now() / 1000)): EventTemplate {
  return { kind: KIND_PRESENCE, created_at, tags: [['a', formatCoordinate(coordinate)]], content: '' }
}

/** The live event a presence points to, or undefined (other kind, or no `a` to a 30311). */
export function getPresenceTarget(e: EventTemplate): Coordinate | undefined {
  if (e.kind !== KIND_PRESENCE) return undefined
  for (const t of e.tags) {
    if (t[0] !== 'a' || typeof t[1] !== 'string') continue
    const c = getCoordinate(t[1])
    if (c && c.kind === KIND_LIVE_EVENT) return c
  }
  return undefined
}
