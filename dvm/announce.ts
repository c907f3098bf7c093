import { buildDvmAnnouncement } from '../protocol/announce.ts'
import type { DvmLimits } from '../protocol/announce.ts'
import type { Coordinate } from '../protocol/coordinate.ts'
import { RENDITIONS } from '../protocol/job.ts'
import type { HlsVariant, Rendition } from '../protocol/job.ts'
import { buildServiceMetrics } from '../protocol/metrics.ts'
import type { ServiceStatus, TranscoderFigures } from '../protocol/metrics.ts'
import type { EventTemplate } from '../protocol/types.ts'
import { MASTER_PLAYLIST, variantPlaylist } from './hls-args.ts'
import { AUDIO_KBPS, AUDIO_RUNGS, VIDEO_RUNGS, variantBandwidth } from './ladder.ts'
import type { VariantPlan } from './ladder.ts'
import type { Health } from './pipeline.ts'

/** What the DVM says about itself and its streams: 31990, 31337 and the URLs of a 6311. Pure. */

/** The `d` of this node's 31990: one announcement per service key. */
export const ANNOUNCEMENT_D = 'relaycast-transcoder'
/** 31337s expire after this, so a crashed DVM's "live" fades on its own. */
export const METRICS_TTL_SECONDS = 60

export function buildAnnouncement(input: { name: string; ingestUrl: string; limits: DvmLimits }, created_at?: number): EventTemplate {
  return buildDvmAnnouncement(
    {
      d: ANNOUNCEMENT_D,
      name: input.name,
      about: 'Live RTMP in, adaptive HLS out (NIP-90 kind 5311). Send the sha256 of your stream key, never the key.',
      ingestUrl: input.ingestUrl,
      renditions: [...RENDITIONS],
      limits: input.limits,
    },
    created_at,
  )
}

export function buildTranscoderMetrics(
  input: { coordinate: Coordinate; status: ServiceStatus; health: Health | undefined; hlsViewers: number; now: number },
): EventTemplate {
  const h = input.health
  const figures: TranscoderFigures = {
    bitrateKbps: Math.round(h?.bitrateKbps ?? 0),
    fps: h?.fps ?? 0,
    width: h?.width ?? 0,
    height: h?.height ?? 0,
    droppedFrames: h?.droppedFrames ?? 0,
    speed: h?.speed ?? 0,
    hlsViewers: input.hlsViewers,
    health: h?.health ?? (input.status === 'ended' ? 'good' : 'bad'),
  }
  return buildServiceMetrics(
    { service: 'transcoder', coordinate: input.coordinate, status: input.status, expiration: input.now + METRICS_TTL_SECONDS, figures },
    input.now,
  )
}

/**
 * The variants a result names before any input is seen: one playlist per requested rung, with the
 * rung's target bandwidth but no resolution, since the picture's shape (16:9, 4:3, portrait) is
 * not known yet. Once the input is probed, `ladderVariants` gives the real list, and the DVM
 * publishes a newer 6311 with it.
 */
export function plannedVariants(baseUrl: string, renditions: readonly Rendition[] | 'audio'): { masterUrl: string; variants: HlsVariant[] } {
  const url = (file: string): string => `${baseUrl}/${file}`
  if (renditions === 'audio') {
    return {
      masterUrl: url(MASTER_PLAYLIST),
      variants: AUDIO_RUNGS.map((r) => ({ name: r.name, url: url(variantPlaylist(r.name)), bandwidth: variantBandwidth({ kind: 'audio', name: r.name, audioKbps: r.audioKbps }) })),
    }
  }
  const variants = renditions.map((name) => ({
    name,
    url: url(variantPlaylist(name)),
    bandwidth: variantBandwidth({ kind: 'video', name, width: 0, height: 0, copy: false, videoKbps: VIDEO_RUNGS[name].videoKbps, audioKbps: AUDIO_KBPS }),
  }))
  return { masterUrl: url(MASTER_PLAYLIST), variants }
}

/**
 * The variants the pipeline actually makes from the probed input, best first: the sizes ffmpeg
 * writes (any aspect ratio), rungs above the input left out, a passed-through rung counted at
 * the streamer's bitrate when known.
 */
export function ladderVariants(baseUrl: string, ladder: readonly VariantPlan[], inputVideoKbps = 0): HlsVariant[] {
  return ladder.map((v) => {
    const variant: HlsVariant = { name: v.name, url: `${baseUrl}/${variantPlaylist(v.name)}`, bandwidth: variantBandwidth(v, inputVideoKbps) }
    if (v.kind === 'video') Object.assign(variant, { width: v.width, height: v.height })
    return variant
  })
}
