import { AbstractRelay } from 'nostr-tools/abstract-relay'
import type { Filter, NostrEvent } from '../../protocol/types.ts'

/**
 * Relay connections for the whole app (one socket per relay, shared by every subscription).
 * Events are not signature-checked here: our relay verified them before storing or forwarding
 * (NIP-01), and checking on the hot path would pull ~40 kB of curve code into the shell. Anything
 * security-relevant (mute lists, deletions, chat rules) is enforced by the relay, not the client.
 */
export interface Pool {
  /** Stored events, then `oneose`, then live ones. Returns the closer (idempotent). */
  subscribe(filters: Filter[], handlers: SubscribeHandlers, relays?: string[]): () => void
  /** Stored events only: resolves at EOSE (or after `maxWaitMs`). */
  query(filters: Filter[], opts?: { relays?: string[]; maxWaitMs?: number }): Promise<NostrEvent[]>
  publish(event: NostrEvent, relays?: string[]): Promise<PublishOutcome>
  /** Relay URL → connected, for the status dot. */
  status(): Map<string, boolean>
  close(): void
}

export interface SubscribeHandlers {
  onevent(event: NostrEvent): void
  oneose?(): void
}

export interface PublishOutcome {
  /** At least one relay accepted it. */
  ok: boolean
  accepted: string[]
  refused: { relay: string; reason: string }[]
}

export interface PoolOptions {
  relays: () => string[]
  /** For Node tests (ws); browsers use their own. */
  WebSocket?: typeof WebSocket
}

const CONNECT_TIMEOUT_MS = 4000

export function createPool(opts: PoolOptions): Pool {
  const relays = new Map<string, AbstractRelay>()
  const targets = (list?: string[]): string[] => [...new Set(list && list.length > 0 ? list : opts.relays())]

  const ensure = async (url: string): Promise<AbstractRelay> => {
    let relay = relays.get(url)
    if (!relay) {
      relay = new AbstractRelay(url, {
        verifyEvent: () => true, // see the note above: the relay already verified
        enableReconnect: true,
        ...(opts.WebSocket ? { websocketImplementation: opts.WebSocket } : {}),
      })
      relays.set(url, relay)
    }
    try {
      await relay.connect({ timeout: CONNECT_TIMEOUT_MS })
    } catch (err) {
      // A first connection that fails is not retried by nostr-tools: forget it, so the next use starts afresh.
      if (relays.get(url) === relay) relays.delete(url)
      relay.close()
      throw new Error(`could not connect to ${url}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
    return relay
  }

  const pool: Pool = {
    subscribe(filters, handlers, list) {
      const urls = targets(list)
      const seen = new Set<string>()
      const subs: { close(): void }[] = []
      const retries = new Set<ReturnType<typeof setTimeout>>()
      let closed = false
      let waiting = urls.length
      const eose = (): void => {
        if (--waiting === 0) handlers.oneose?.()
      }
      const open = (url: string, attempt: number, first: boolean): void => {
        let eosed = !first
        const once = (): void => {
          if (!eosed) {
            eosed = true
            eose()
          }
        }
        ensure(url).then(
          (relay) => {
            if (closed) return
            const sub = relay.subscribe(
              filters.map((f) => ({ ...f })), // nostr-tools rewrites `since` on reconnect
              {
                onevent: (e) => {
                  if (seen.has(e.id)) return
                  seen.add(e.id)
                  handlers.onevent(e as NostrEvent)
                },
                oneose: once,
                onclose: once,
              },
            )
            subs.push(sub)
          },
          (err: unknown) => {
            once()
            if (closed) return
            console.warn(err instanceof Error ? err.message : err)
            const timer = setTimeout(() => {
              retries.delete(timer)
              if (!closed) open(url, attempt + 1, false)
            }, Math.min(30_000, 2000 * 2 ** attempt))
            retries.add(timer)
          },
        )
      }
      for (const url of urls) open(url, 0, true)
      if (urls.length === 0) queueMicrotask(() => handlers.oneose?.())
      return () => {
        if (closed) return
        closed = true
        for (const t of retries) clearTimeout(t)
        for (const sub of subs) sub.close()
      }
    },
    query(filters, q = {}) {
      return new Promise((resolve) => {
        const events = new Map<string, NostrEvent>()
        let close = (): void => undefined
        let done = false
        const finish = (): void => {
          if (done) return
          done = true
          clearTimeout(timer)
          close()
          resolve([...events.values()])
        }
        const timer = setTimeout(finish, q.maxWaitMs ?? 5000)
        close = pool.subscribe(filters, { onevent: (e) => void events.set(e.id, e), oneose: finish }, q.relays)
        if (done) close()
      })
    },
    async publish(event, list) {
      const urls = targets(list)
      const results = await Promise.allSettled(urls.map(async (url) => (await ensure(url)).publish(event as never)))
      const outcome: PublishOutcome = { ok: false, accepted: [], refused: [] }
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') outcome.accepted.push(urls[i])
        else outcome.refused.push({ relay: urls[i], reason: r.reason instanceof Error ? r.reason.message : String(r.reason) })
      })
      outcome.ok = outcome.accepted.length > 0
      return outcome
    },
    status: () => new Map([...relays].map(([url, r]) => [url, r.connected])),
    close() {
      for (const r of relays.values()) r.close()
      relays.clear()
    },
  }
  return pool
}
