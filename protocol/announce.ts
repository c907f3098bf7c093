import { KIND_HANDLER_INFO, KIND_TRANSCODE_REQUEST } from './kinds.ts'
import { RENDITIONS } from './job.ts'
import type { Rendition } from './job.ts'
import type { EventTemplate } from './types.ts'

/**
 * A DVM announces itself with a NIP-89 handler event (31990) for k=5311, so clients can pick
 * a node and address jobs to it. `content` is kind-0-style metadata ({name, about}); what a
 * streamer's client needs to choose is in tags: `["ingest", rtmp-url]`, `["renditions", …names]`,
 * `["limit", "max_streams", n]`, `["limit", "max_renditions", n]`.
 */

export interface DvmLimits {
  /** Concurrent streams this node accepts. */
  maxStreams: number
  /** Most renditions in one job. */
  maxRenditions: number
}

export interface DvmAnnouncement {
  /** The handler's `d`: one announcement per node, replaced when it changes. */
  d: string
  name: string
  about: string
  ingestUrl: string
  /** Video renditions it can make, largest first; audio-only is always possible. */
  renditions: Rendition[]
  limits: DvmLimits
}

export function buildDvmAnnouncement(input: DvmAnnouncement, created_at: number = Math.floor(Date.now() / 1000)): EventTemplate {
  return {
    kind: KIND_HANDLER_INFO,
    created_at,
    tags: [
      ['d', input.d],
      ['k', String(KIND_TRANSCODE_REQUEST)],
      ['ingest', input.ingestUrl],
      ['renditions', ...input.renditions],
      ['limit', 'max_streams', String(input.limits.maxStreams)],
      ['limit', 'max_renditions', String(input.limits.maxRenditions)],
    ],
    content: JSON.stringify({ name: input.name, about: input.about }),
  }
}

/**
 * Undefined unless it is a 31990 handling 5311 with a name, an ingest URL and both limits.
 * Rendition names this version does not know (a newer node's) are skipped, not fatal.
 */
export function getDvmAnnouncement(e: EventTemplate): DvmAnnouncement | undefined {
  if (e.kind !== KIND_HANDLER_INFO) return undefined
  if (!e.tags.some((t) => t[0] === 'k' && t[1] === String(KIND_TRANSCODE_REQUEST))) return undefined
  const d = e.tags.find((t) => t[0] === 'd')?.[1]
  const ingestUrl = e.tags.find((t) => t[0] === 'ingest')?.[1]
  const maxStreams = limit(e.tags, 'max_streams')
  const maxRenditions = limit(e.tags, 'max_renditions')
  const meta = metadata(e.content)
  if (d === undefined || ingestUrl === undefined || maxStreams === undefined || maxRenditions === undefined || !meta) return undefined
  const renditions = (e.tags.find((t) => t[0] === 'renditions') ?? [])
    .slice(1)
    .filter((r): r is Rendition => (RENDITIONS as readonly string[]).includes(r))
  return { d, ...meta, ingestUrl, renditions, limits: { maxStreams, maxRenditions } }
}

function limit(tags: string[][], name: string): number | undefined {
  const value = tags.find((t) => t[0] === 'limit' && t[1] === name)?.[2]
  return value !== undefined && /^[0-9]{1,9}$/.test(value) ? Number(value) : undefined
}

function metadata(content: string): { name: string; about: string } | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(content)
  } catch {
    return undefined // not ours: another handler's free-form content
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined
  const { name, about } = parsed as Record<string, unknown>
  if (typeof name !== 'string') return undefined
  return { name, about: typeof about === 'string' ? about : '' }
}
