import { matchFilters } from '../../protocol/filter.ts'
import type { Filter, NostrEvent } from '../../protocol/types.ts'
import type { Pool, PublishOutcome, SubscribeHandlers } from './pool.ts'

/**
 * An in-memory Pool for model tests: publishes are recorded (and refused when `refuse` says so),
 * accepted events reach matching subscriptions, and `deliver` plays the relays' part.
 */
export interface FakePool extends Pool {
  published: NostrEvent[]
  /** A NIP-01 reason to refuse an event with, or undefined to accept it. */
  refuse: (event: NostrEvent) => string | undefined
  deliver(event: NostrEvent): void
  openSubscriptions(): number
}

export function createFakePool(stored: NostrEvent[] = []): FakePool {
  const events = [...stored]
  const subs = new Set<{ filters: Filter[]; handlers: SubscribeHandlers }>()
  const deliver = (e: NostrEvent): void => {
    events.push(e)
    for (const s of subs) if (matchFilters(s.filters, e)) s.handlers.onevent(e)
  }
  const pool: FakePool = {
    published: [],
    refuse: () => undefined,
    deliver,
    openSubscriptions: () => subs.size,
    subscribe(filters, handlers) {
      const sub = { filters, handlers }
      subs.add(sub)
      for (const e of events) if (matchFilters(filters, e)) handlers.onevent(e)
      handlers.oneose?.()
      return () => void subs.delete(sub)
    },
    async query(filters) {
      return events.filter((e) => matchFilters(filters, e))
    },
    async publish(event): Promise<PublishOutcome> {
      const reason = pool.refuse(event)
      if (reason !== undefined) return { ok: false, accepted: [], refused: [{ relay: 'ws://fake', reason }] }
      pool.published.push(event)
      deliver(event)
      return { ok: true, accepted: ['ws://fake'], refused: [] }
    },
    status: () => new Map(),
    close: () => subs.clear(),
  }
  return pool
}
