import { computed, signal } from '@preact/signals'
import type { ReadonlySignal, Signal } from '@preact/signals'
import { formatCoordinate } from '../../protocol/coordinate.ts'
import type { Coordinate } from '../../protocol/coordinate.ts'
import { KIND_LIVE_EVENT, KIND_SERVICE_METRICS } from '../../protocol/kinds.ts'
import { isNewerVersion } from '../../protocol/replaceable.ts'
import type { NostrEvent } from '../../protocol/types.ts'
import type { Pool } from './pool.ts'
import { applyMetrics, toStreamEntry } from './stream-entry.ts'
import type { StreamEntry, StreamMetrics } from './stream-entry.ts'

/** One stream, followed live: its 30311 and both services' 31337 figures. */
export interface StreamView {
  coordinate: Coordinate
  entry: ReadonlySignal<StreamEntry | undefined>
  metrics: Signal<StreamMetrics>
  /** true until the relays answered (EOSE) or gave up. */
  loading: Signal<boolean>
  apply(event: NostrEvent): void
  start(): () => void
}

export function createStreamView(pool: Pool, coordinate: Coordinate, opts: { relays: () => string[]; now?: () => number }): StreamView {
  const clock = opts.now ?? (() => Math.floor(Date.now() / 1000))
  const address = formatCoordinate(coordinate)
  const event = signal<NostrEvent | undefined>(undefined)
  const metrics = signal<StreamMetrics>({})
  const now = signal(clock())
  const loading = signal(true)
  const apply = (e: NostrEvent): void => {
    if (e.kind === KIND_SERVICE_METRICS) {
      const map = new Map([[address, metrics.value]])
      if (applyMetrics(map, e)) metrics.value = map.get(address) ?? {}
      return
    }
    if (e.kind !== KIND_LIVE_EVENT || e.pubkey !== coordinate.pubkey) return
    if (!e.tags.some((t) => t[0] === 'd' && t[1] === coordinate.identifier)) return
    if (event.value && !isNewerVersion(e, event.value)) return
    event.value = e
  }
  return {
    coordinate,
    entry: computed(() => (event.value ? toStreamEntry(event.value, metrics.value, now.value, opts.relays()) : undefined)),
    metrics,
    loading,
    apply,
    start() {
      const close = pool.subscribe(
        [
          { kinds: [KIND_LIVE_EVENT], authors: [coordinate.pubkey], '#d': [coordinate.identifier] },
          { kinds: [KIND_SERVICE_METRICS], '#d': [address] },
        ],
        { onevent: apply, oneose: () => void (loading.value = false) },
        opts.relays(),
      )
      const timer = setInterval(() => (now.value = clock()), 15_000)
      return () => {
        clearInterval(timer)
        close()
      }
    },
  }
}
