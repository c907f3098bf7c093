import { computed, signal } from '@preact/signals'
import type { ReadonlySignal, Signal } from '@preact/signals'
import { KIND_LIVE_EVENT, KIND_SERVICE_METRICS } from '../../protocol/kinds.ts'
import { getAddress, isNewerVersion } from '../../protocol/replaceable.ts'
import type { NostrEvent } from '../../protocol/types.ts'
import type { Pool } from './pool.ts'
import { applyMetrics, toStreamEntry } from './stream-entry.ts'
import type { StreamEntry, StreamMetrics } from './stream-entry.ts'

/**
 * Discovery: live streams from the relay's `#status` live-now query, planned and ended ones in
 * their own sections, viewer counts from service metrics, filtered by category. Updates live.
 */
export interface Streams {
  live: ReadonlySignal<StreamEntry[]>
  planned: ReadonlySignal<StreamEntry[]>
  /** Ended streams that offer a recording. */
  ended: ReadonlySignal<StreamEntry[]>
  /** Categories of listed streams, most used first. */
  categories: ReadonlySignal<string[]>
  /** undefined = all. Matches the category or any tag. */
  category: Signal<string | undefined>
  loading: Signal<boolean>
  /** Applies a 30311 or 31337 (what the subscription does; exposed for tests). */
  apply(event: NostrEvent): void
  /** Opens the subscription; returns its cleanup. */
  start(): () => void
  /** Advances the clock used for freshness (ticks every 30 s once started). */
  tick(now?: number): void
}

const PLANNED_LIMIT = 40
const ENDED_LIMIT = 40

export function createStreams(pool: Pool, opts: { relays: () => string[]; now?: () => number }): Streams {
  const clock = opts.now ?? (() => Math.floor(Date.now() / 1000))
  const events = new Map<string, NostrEvent>()
  const metrics = new Map<string, StreamMetrics>()
  const version = signal(0)
  const now = signal(clock())
  const category = signal<string | undefined>(undefined)
  const loading = signal(true)

  const entries = computed(() => {
    void version.value
    const at = now.value
    const out: StreamEntry[] = []
    for (const [address, e] of events) {
      const entry = toStreamEntry(e, metrics.get(address), at, opts.relays())
      if (entry && !entry.live.unlisted) out.push(entry)
    }
    return out
  })
  const filtered = computed(() => {
    const c = category.value?.toLowerCase()
    return c === undefined ? entries.value : entries.value.filter((s) => [s.live.category, ...s.live.tags].some((t) => t?.toLowerCase() === c))
  })
  const byStatus = (status: StreamEntry['status'], order: (a: StreamEntry, b: StreamEntry) => number): ReadonlySignal<StreamEntry[]> =>
    computed(() => filtered.value.filter((s) => s.status === status).sort(order))
  const started = (s: StreamEntry): number => s.live.starts ?? s.event.created_at

  const apply = (e: NostrEvent): void => {
    if (e.kind === KIND_SERVICE_METRICS) {
      if (applyMetrics(metrics, e)) version.value++
      return
    }
    if (e.kind !== KIND_LIVE_EVENT) return
    const address = getAddress(e)
    if (address === undefined) return
    const have = events.get(address)
    if (have && !isNewerVersion(e, have)) return
    events.set(address, e)
    version.value++
  }

  return {
    live: byStatus('live', (a, b) => (b.viewers ?? 0) - (a.viewers ?? 0) || started(b) - started(a)),
    planned: byStatus('planned', (a, b) => started(a) - started(b)),
    // Ended streams are worth a card only when there is something to watch: the recording.
    ended: computed(() =>
      filtered.value
        .filter((s) => s.status === 'ended' && s.live.recording !== undefined)
        .sort((a, b) => (b.live.ends ?? b.event.created_at) - (a.live.ends ?? a.event.created_at)),
    ),
    categories: computed(() => {
      const counts = new Map<string, number>()
      for (const s of entries.value) if (s.live.category) counts.set(s.live.category.toLowerCase(), (counts.get(s.live.category.toLowerCase()) ?? 0) + 1)
      return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([c]) => c)
    }),
    category,
    loading,
    apply,
    tick(at = clock()) {
      now.value = at
    },
    start() {
      loading.value = true
      const close = pool.subscribe(
        [
          { kinds: [KIND_LIVE_EVENT], '#status': ['live'] },
          { kinds: [KIND_LIVE_EVENT], '#status': ['planned'], limit: PLANNED_LIMIT },
          { kinds: [KIND_LIVE_EVENT], '#status': ['ended'], limit: ENDED_LIMIT },
          { kinds: [KIND_SERVICE_METRICS], '#status': ['live'] },
        ],
        { onevent: apply, oneose: () => void (loading.value = false) },
      )
      const timer = setInterval(() => (now.value = clock()), 30_000)
      return () => {
        clearInterval(timer)
        close()
      }
    },
  }
}
