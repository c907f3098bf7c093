import { computed, signal } from '@preact/signals'
import type { ReadonlySignal, Signal } from '@preact/signals'
import type { Coordinate } from '../../protocol/coordinate.ts'
import { KIND_DELETION, KIND_LIVE_CHAT, KIND_MUTE_LIST } from '../../protocol/kinds.ts'
import type { TranscoderFigures } from '../../protocol/metrics.ts'
import type { EventTemplate, NostrEvent } from '../../protocol/types.ts'
import type { Pool } from './pool.ts'
import { describeRefusal } from './refusal.ts'
import type { StreamMetrics } from './stream-entry.ts'

/**
 * The streamer's view of a running stream: viewer figures from the relay's 31337 (now, peak,
 * total) and health from the DVM's, a viewer timeline for the analytics, and moderation — mute
 * (the host's NIP-51 kind 10000, which the relay enforces on all the host's streams) and delete
 * (a kind 5 naming the chat message, which the relay applies for the host).
 */
export interface Sample {
  at: number
  viewers: number
}

export interface Analytics {
  durationSeconds: number
  peak: number
  total: number
  chatMessages: number
  timeline: Sample[]
}

export interface Dashboard {
  viewersNow: ReadonlySignal<number>
  peak: ReadonlySignal<number>
  total: ReadonlySignal<number>
  chatMessages: ReadonlySignal<number>
  health: ReadonlySignal<TranscoderFigures | undefined>
  timeline: Signal<Sample[]>
  muted: Signal<Set<string>>
  error: Signal<string | undefined>
  /** Feed the stream's metrics (from a StreamView) as they change. */
  onMetrics(m: StreamMetrics): void
  mute(pubkey: string): Promise<boolean>
  unmute(pubkey: string): Promise<boolean>
  remove(message: NostrEvent): Promise<boolean>
  analytics(startedAt: number, endedAt: number, chatSeen: number): Analytics
  start(): () => void
}

export interface DashboardOptions {
  coordinate: Coordinate
  sign: (t: EventTemplate) => Promise<NostrEvent>
  relays: () => string[]
  now?: () => number
}

/** Samples kept for the plot: a 12-hour stream at one sample per 5 s stays under this. */
const MAX_SAMPLES = 10_000

export function createDashboard(pool: Pool, opts: DashboardOptions): Dashboard {
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000))
  const metrics = signal<StreamMetrics>({})
  const timeline = signal<Sample[]>([])
  const muted = signal<Set<string>>(new Set())
  const error = signal<string | undefined>(undefined)
  let muteList: NostrEvent | undefined

  const relayFigures = computed(() => metrics.value.relay?.figures)
  const viewersNow = computed(() => (metrics.value.relay?.status === 'live' ? (relayFigures.value?.viewers ?? 0) : 0))
  const localPeak = computed(() => timeline.value.reduce((m, s) => Math.max(m, s.viewers), 0))

  const applyMuteList = (e: NostrEvent): void => {
    if (e.kind !== KIND_MUTE_LIST || e.pubkey !== opts.coordinate.pubkey) return
    if (muteList && (muteList.created_at > e.created_at || (muteList.created_at === e.created_at && muteList.id <= e.id))) return
    muteList = e
    muted.value = new Set(e.tags.filter((t) => t[0] === 'p' && typeof t[1] === 'string').map((t) => t[1]))
  }

  const publish = async (template: EventTemplate): Promise<NostrEvent | undefined> => {
    try {
      const event = await opts.sign(template)
      const outcome = await pool.publish(event, opts.relays())
      if (!outcome.ok) {
        error.value = describeRefusal(outcome.refused[0]?.reason ?? 'no relay to send to')
        return undefined
      }
      error.value = undefined
      return event
    } catch (err) {
      error.value = err instanceof Error ? err.message : String(err)
      return undefined
    }
  }

  const writeMuteList = async (change: (tags: string[][]) => string[][]): Promise<boolean> => {
    // Start from the newest list on the relays, so mutes made elsewhere are kept.
    const latest = await pool.query([{ kinds: [KIND_MUTE_LIST], authors: [opts.coordinate.pubkey] }], { maxWaitMs: 3000 })
    for (const e of latest) applyMuteList(e)
    const base = muteList ?? { tags: [], content: '', created_at: 0 }
    const event = await publish({
      kind: KIND_MUTE_LIST,
      created_at: Math.max(now(), base.created_at + 1),
      content: base.content, // NIP-51 private items (encrypted) are kept as they were
      tags: change(base.tags.map((t) => [...t])),
    })
    if (event) applyMuteList(event)
    return event !== undefined
  }

  return {
    viewersNow,
    peak: computed(() => Math.max(relayFigures.value?.peak ?? 0, localPeak.value)),
    total: computed(() => relayFigures.value?.total ?? 0),
    chatMessages: computed(() => relayFigures.value?.chatMessages ?? 0),
    health: computed(() => (metrics.value.transcoder?.status === 'live' ? metrics.value.transcoder.figures : undefined)),
    timeline,
    muted,
    error,
    onMetrics(m) {
      const before = metrics.value.relay?.at
      metrics.value = m
      if (m.relay && m.relay.at !== before) {
        const list = [...timeline.value, { at: m.relay.at, viewers: m.relay.figures.viewers }]
        timeline.value = list.length > MAX_SAMPLES ? list.slice(-MAX_SAMPLES) : list
      }
    },
    mute: (pubkey) => writeMuteList((tags) => (tags.some((t) => t[0] === 'p' && t[1] === pubkey) ? tags : [...tags, ['p', pubkey]])),
    unmute: (pubkey) => writeMuteList((tags) => tags.filter((t) => !(t[0] === 'p' && t[1] === pubkey))),
    async remove(message) {
      return (
        (await publish({
          kind: KIND_DELETION,
          created_at: now(),
          content: 'removed by the host',
          // No `a` tag: in a kind 5 it would ask to delete the host's own live event (NIP-09).
          tags: [
            ['e', message.id],
            ['k', String(KIND_LIVE_CHAT)],
          ],
        })) !== undefined
      )
    },
    analytics(startedAt, endedAt, chatSeen) {
      const samples = timeline.value.filter((s) => s.at >= startedAt - 60 && s.at <= endedAt + 60)
      return {
        durationSeconds: Math.max(0, endedAt - startedAt),
        peak: Math.max(relayFigures.value?.peak ?? 0, ...samples.map((s) => s.viewers), 0),
        total: relayFigures.value?.total ?? 0,
        chatMessages: Math.max(relayFigures.value?.chatMessages ?? 0, chatSeen),
        timeline: samples,
      }
    },
    start() {
      return pool.subscribe([{ kinds: [KIND_MUTE_LIST], authors: [opts.coordinate.pubkey] }], { onevent: applyMuteList }, opts.relays())
    },
  }
}

/** An SVG polyline for the viewer timeline, scaled into width × height. */
export function getTimelinePoints(samples: Sample[], width: number, height: number): string {
  if (samples.length === 0) return ''
  if (samples.length === 1) samples = [samples[0], { at: samples[0].at + 1, viewers: samples[0].viewers }] // one sample: a flat line
  const t0 = samples[0].at
  const span = Math.max(1, samples[samples.length - 1].at - t0)
  const max = Math.max(1, ...samples.map((s) => s.viewers))
  return samples.map((s) => `${(((s.at - t0) / span) * width).toFixed(1)},${(height - (s.viewers / max) * height).toFixed(1)}`).join(' ')
}
