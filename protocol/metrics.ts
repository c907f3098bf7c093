import { formatCoordinate, getCoordinate } from './coordinate.ts'
import type { Coordinate } from './coordinate.ts'
import { KIND_LIVE_EVENT, KIND_SERVICE_METRICS } from './kinds.ts'
import type { EventTemplate } from './types.ts'

/**
 * Service metrics (31337), signed by a service key (relay or DVM), never by a user. `d` is the
 * stream coordinate, so a relay keeps only the latest per service per stream. Kind 31337 is also
 * used elsewhere for audio tracks: a 31337 is metrics only with `["type","metrics"]` and an `a`
 * pointing at a 30311.
 */

export const SERVICES = ['relay', 'transcoder'] as const
export type Service = (typeof SERVICES)[number]
export type ServiceStatus = 'live' | 'ended'

export interface RelayFigures {
  /** Viewers now (chat subscriptions and fresh presences, deduplicated). */
  viewers: number
  /** Distinct viewers since the stream started. */
  total: number
  peak: number
  chatMessages: number
}

export const STREAM_HEALTHS = ['good', 'degraded', 'bad'] as const
export type StreamHealth = (typeof STREAM_HEALTHS)[number]

export interface TranscoderFigures {
  /** Incoming bitrate from the streamer. */
  bitrateKbps: number
  fps: number
  width: number
  height: number
  droppedFrames: number
  /** ffmpeg's speed (1 = real time; below 1 the ladder falls behind). */
  speed: number
  /** HLS playlist readers in the last interval. */
  hlsViewers: number
  health: StreamHealth
}

interface MetricsBase {
  coordinate: Coordinate
  status: ServiceStatus
  /** NIP-40: stale metrics disappear by themselves. */
  expiration: number
}

export type ServiceMetrics =
  | (MetricsBase & { service: 'relay'; figures: RelayFigures })
  | (MetricsBase & { service: 'transcoder'; figures: TranscoderFigures })

export function buildServiceMetrics(m: ServiceMetrics, created_at: number = Math.floor(Date.now() / 1000)): EventTemplate {
  const coord = formatCoordinate(m.coordinate)
  return {
    kind: KIND_SERVICE_METRICS,
    created_at,
    tags: [
      ['d', coord],
      ['a', coord],
      ['service', m.service],
      ['type', 'metrics'],
      ['status', m.status],
      ['expiration', String(m.expiration)],
    ],
    content: JSON.stringify(m.figures),
  }
}

/**
 * Undefined for anything that is not our metrics: another use of 31337 (audio tracks), an
 * unknown service or status, or figures that are missing or not finite numbers.
 */
export function getServiceMetrics(e: EventTemplate): ServiceMetrics | undefined {
  if (e.kind !== KIND_SERVICE_METRICS) return undefined
  if (!e.tags.some((t) => t[0] === 'type' && t[1] === 'metrics')) return undefined
  const a = first(e.tags, 'a')
  const coordinate = a !== undefined ? getCoordinate(a) : undefined
  // d must be the coordinate, or "latest per service per stream" would not hold.
  if (!coordinate || coordinate.kind !== KIND_LIVE_EVENT || first(e.tags, 'd') !== a) return undefined
  const status = first(e.tags, 'status')
  if (status !== 'live' && status !== 'ended') return undefined
  const expirationText = first(e.tags, 'expiration')
  if (expirationText === undefined || !/^[0-9]{1,15}$/.test(expirationText)) return undefined
  const base: MetricsBase = { coordinate, status, expiration: Number(expirationText) }
  const content = parseObject(e.content)
  if (!content) return undefined
  const service = first(e.tags, 'service')
  if (service === 'relay') {
    const figures = numbers(content, ['viewers', 'total', 'peak', 'chatMessages'] as const)
    return figures && { ...base, service, figures }
  }
  if (service === 'transcoder') {
    const figures = numbers(content, ['bitrateKbps', 'fps', 'width', 'height', 'droppedFrames', 'speed', 'hlsViewers'] as const)
    const health = content.health
    if (!figures || !(STREAM_HEALTHS as readonly unknown[]).includes(health)) return undefined
    return { ...base, service, figures: { ...figures, health: health as StreamHealth } }
  }
  return undefined
}

function first(tags: string[][], name: string): string | undefined {
  return tags.find((t) => t[0] === name && typeof t[1] === 'string')?.[1]
}

function parseObject(content: string): Record<string, unknown> | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(content)
  } catch {
    return undefined // a reader never throws: malformed content is simply not metrics
  }
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined
}

/** Picks exactly these keys; extra keys (a newer service's) are dropped, not fatal. */
function numbers<K extends string>(o: Record<string, unknown>, keys: readonly K[]): Record<K, number> | undefined {
  const out = {} as Record<K, number>
  for (const k of keys) {
    const v = o[k]
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) return undefined
    out[k] = v
  }
  return out
}
