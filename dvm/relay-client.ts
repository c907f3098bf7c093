import { Relay, useWebSocketImplementation } from 'nostr-tools/relay'
import WebSocket from 'ws'
import type { Log } from '../ingest/types.ts'
import type { Filter, NostrEvent } from '../protocol/types.ts'

/**
 * The DVM's one connection to its relay, on nostr-tools: subscriptions that end with an
 * AbortSignal, and publishing that resolves only on the relay's `OK true` (rejects with the
 * relay's reason otherwise). Reconnects by itself and re-opens the subscriptions.
 */

useWebSocketImplementation(WebSocket)

export interface RelayClient {
  readonly url: string
  /** Calls `onEvent` for every stored and new event until `signal` aborts. */
  subscribe(filters: Filter[], onEvent: (event: NostrEvent) => void, signal: AbortSignal): void
  /** Resolves once the relay says OK true; rejects with PublishError carrying its reason. */
  publish(event: NostrEvent): Promise<void>
  close(): void
}

export class PublishError extends Error {
  override readonly name = 'PublishError'
}

export async function connectRelay(url: string, options: { signal?: AbortSignal; log?: Log; timeoutMs?: number } = {}): Promise<RelayClient> {
  const log: Log = options.log ?? (() => {})
  const relay = new Relay(url, { enableReconnect: true, enablePing: true })
  let closing = false
  relay.onclose = () => {
    if (!closing) log('warn', 'relay connection closed', { relay: url })
  }
  await relay.connect({ timeout: options.timeoutMs ?? 10_000, abort: options.signal })
  return {
    url,
    subscribe(filters, onEvent, signal) {
      if (signal.aborted) return
      const sub = relay.subscribe(filters as Parameters<typeof relay.subscribe>[0], {
        onevent: (e) => onEvent(e as NostrEvent),
        onclose: (reason) => {
          if (!signal.aborted) log('warn', 'subscription closed by relay', { relay: url, reason })
        },
      })
      signal.addEventListener('abort', () => sub.close(), { once: true })
    },
    async publish(event) {
      try {
        await relay.publish(event)
      } catch (err) {
        throw new PublishError(`relay refused ${event.kind}: ${(err as Error).message ?? String(err)}`, { cause: err })
      }
    },
    close() {
      closing = true
      relay.close()
    },
  }
}
