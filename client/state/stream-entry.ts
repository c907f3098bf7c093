import { encodeNaddr, formatCoordinate } from '../../protocol/coordinate.ts'
import type { Coordinate } from '../../protocol/coordinate.ts'
import { getLiveEvent, isLiveNow } from '../../protocol/nip53.ts'
import type { LiveEvent, LiveStatus } from '../../protocol/nip53.ts'
import { getServiceMetrics } from '../../protocol/metrics.ts'
import type { RelayFigures, TranscoderFigures } from '../../protocol/metrics.ts'
import type { NostrEvent } from '../../protocol/types.ts'

/** One live event as the UI shows it, with what the services say about it. */
export interface StreamEntry {
  event: NostrEvent
  live: LiveEvent
  coordinate: Coordinate
  /** `30311:<pubkey>:<d>` */
  address: string
  naddr: string
  /** What to show: `live` only while fresh (see isLiveNow); a stale live reads as ended. */
  status: LiveStatus
  viewers?: number
}

/** The newest figures each service published for one stream, with their created_at. */
export interface StreamMetrics {
  relay?: { figures: RelayFigures; at: number; status: 'live' | 'ended' }
  transcoder?: { figures: TranscoderFigures; at: number; status: 'live' | 'ended' }
}

export function toStreamEntry(event: NostrEvent, metrics: StreamMetrics | undefined, now: number, fallbackRelays: string[]): StreamEntry | undefined {
  const live = getLiveEvent(event)
  if (!live) return undefined
  const coordinate: Coordinate = { kind: event.kind, pubkey: event.pubkey, identifier: live.identifier }
  const serviceLive = [metrics?.relay, metrics?.transcoder].filter((m) => m?.status === 'live').map((m) => m!.at)
  const lastServiceLiveAt = serviceLive.length > 0 ? Math.max(...serviceLive) : undefined
  const fresh = isLiveNow(event, { now, ...(lastServiceLiveAt !== undefined ? { lastServiceLiveAt } : {}) })
  const status: LiveStatus = live.status === 'live' && !fresh ? 'ended' : live.status
  const hints = (live.relays.length > 0 ? live.relays : fallbackRelays).slice(0, 2)
  const entry: StreamEntry = { event, live, coordinate, address: formatCoordinate(coordinate), naddr: safeNaddr(coordinate, hints), status }
  const viewers = metrics?.relay?.figures.viewers ?? live.currentParticipants
  if (viewers !== undefined) entry.viewers = viewers
  return entry
}

function safeNaddr(c: Coordinate, relays: string[]): string {
  try {
    return encodeNaddr(c, relays)
  } catch {
    return encodeNaddr(c) // hints too long: the address alone still works with the default relay
  }
}

/** Folds a 31337 into a metrics map keyed by stream address; false when it is not (newer) metrics. */
export function applyMetrics(map: Map<string, StreamMetrics>, e: NostrEvent): boolean {
  const m = getServiceMetrics(e)
  if (!m) return false
  const address = formatCoordinate(m.coordinate)
  const current = map.get(address) ?? {}
  const slot = current[m.service]
  if (slot && slot.at >= e.created_at) return false
  const next: StreamMetrics = { ...current }
  if (m.service === 'relay') next.relay = { figures: m.figures, at: e.created_at, status: m.status }
  else next.transcoder = { figures: m.figures, at: e.created_at, status: m.status }
  map.set(address, next)
  return true
}

/** A start time as people read it: "Tue 18:30" in their own locale. */
export function formatStart(unix: number): string {
  return new Date(unix * 1000).toLocaleString(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' })
}
