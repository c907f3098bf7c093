import type { RelayClient } from '../../dvm/relay-client.ts'
import type { Filter, NostrEvent } from '../../protocol/types.ts'

/**
 * Resolves with the first stored or new event matching `filters` and `accept`, or rejects after
 * `timeoutMs` naming `what`. The subscription is closed either way.
 */
export function waitForEvent(
  relay: RelayClient,
  what: string,
  filters: Filter[],
  accept: (e: NostrEvent) => boolean = () => true,
  timeoutMs = 30_000,
): Promise<NostrEvent> {
  const abort = new AbortController()
  return new Promise<NostrEvent>((resolve, reject) => {
    const timer = setTimeout(() => {
      abort.abort()
      reject(new Error(`no ${what} on the relay within ${timeoutMs} ms`))
    }, timeoutMs)
    relay.subscribe(
      filters,
      (e) => {
        if (abort.signal.aborted || !accept(e)) return
        clearTimeout(timer)
        abort.abort()
        resolve(e)
      },
      abort.signal,
    )
  })
}
