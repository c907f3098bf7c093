import type { Coordinate } from '../../protocol/coordinate.ts'
import { buildPresence } from '../../protocol/presence.ts'
import type { EventTemplate, NostrEvent } from '../../protocol/types.ts'
import type { Pool } from './pool.ts'

/** NIP-53 presence refresh: often enough for the relay's count, rarely enough to cost nothing. */
export const PRESENCE_EVERY_MS = 3 * 60_000

/**
 * Announces (10312) that the signed-in viewer is watching, now and every few minutes, until the
 * returned cleanup runs. Failures are logged, not shown: presence is a courtesy, not a feature.
 */
export function startPresence(pool: Pool, sign: (t: EventTemplate) => Promise<NostrEvent>, coordinate: Coordinate, relays: () => string[], every = PRESENCE_EVERY_MS): () => void {
  let stopped = false
  const send = async (): Promise<void> => {
    try {
      const event = await sign(buildPresence(coordinate))
      if (!stopped) await pool.publish(event, relays())
    } catch (err) {
      console.warn('presence not sent', err)
    }
  }
  void send()
  const timer = setInterval(() => void send(), every)
  return () => {
    stopped = true
    clearInterval(timer)
  }
}
