import type { Rendition } from '../protocol/job.ts'

/**
 * The bitrate ladder and how a job's requested renditions meet the actual input: never upscale,
 * pass the top rung through when the input already is that size and H.264 (4:2:0), keep the
 * picture's aspect ratio (portrait too: a rung names the short side).
 */

/** What the transcoder needs to know about the input, from ffprobe. */
export interface MediaProbe {
  hasVideo: boolean
  hasAudio: boolean
  /** Coded size; 0 when there is no video. */
  width: number
  height: number
  /** Frames per second; 0 when unknown. */
  fps: number
  /** ffprobe codec_name: 'h264', 'hevc', … */
  videoCodec?: string
  /** ffprobe pix_fmt: 'yuv420p', … */
  pixelFormat?: string
  audioCodec?: string
}

/** Target bitrates at 30 fps; above 30 fps video gets half as much again. */
export const VIDEO_RUNGS: Readonly<Record<Rendition, { size: number; videoKbps: number }>> = Object.freeze({
  '1080p': { size: 1080, videoKbps: 5000 },
  '720p': { size: 720, videoKbps: 2800 },
  '480p': { size: 480, videoKbps: 1200 },
  '360p': { size: 360, videoKbps: 700 },
  '240p': { size: 240, videoKbps: 400 },
})

/** AAC-LC, 48 kHz stereo: muxed into every video variant, and the whole ladder of an audio job. */
export const AUDIO_KBPS = 128
export const AUDIO_RUNGS: readonly { name: string; audioKbps: number }[] = [
  { name: 'audio', audioKbps: 128 },
  { name: 'audio-low', audioKbps: 64 },
]

export const MAX_FPS = 60
/** When the input does not say. */
export const DEFAULT_FPS = 30

export interface VideoVariant {
  kind: 'video'
  name: string
  width: number
  height: number
  /** Passed through untouched (the input already is this rung). */
  copy: boolean
  /** Target; unknown (0) for a copied rung, where the streamer's encoder decides. */
  videoKbps: number
  /** 0 when the input has no audio. */
  audioKbps: number
}

export interface AudioVariant {
  kind: 'audio'
  name: string
  audioKbps: number
}

export type VariantPlan = VideoVariant | AudioVariant

const even = (n: number): number => Math.max(2, Math.round(n / 2) * 2)

/** Input fps, clamped to something an encoder and a player can take. */
export function outputFps(probe: MediaProbe): number {
  const fps = Number.isFinite(probe.fps) && probe.fps > 0 ? probe.fps : DEFAULT_FPS
  return Math.min(fps, MAX_FPS)
}

/** Pass-through is possible only for what every browser decodes. */
export function isCopyable(probe: MediaProbe): boolean {
  return probe.videoCodec === 'h264' && (probe.pixelFormat === undefined || probe.pixelFormat === 'yuv420p' || probe.pixelFormat === 'yuvj420p')
}

export interface LadderOptions {
  /** Allow passing the top rung through when the input matches it (default true). */
  passthrough?: boolean
}

/**
 * The variants to produce, best first. A rung taller (on the short side) than the input is
 * dropped; when every requested rung is, the input's own size is the single rung.
 */
export function planLadder(requested: readonly Rendition[] | 'audio', probe: MediaProbe, options: LadderOptions = {}): VariantPlan[] {
  if (requested === 'audio' || !probe.hasVideo || probe.width <= 0 || probe.height <= 0) {
    if (!probe.hasAudio) return []
    return AUDIO_RUNGS.map((r) => ({ kind: 'audio', name: r.name, audioKbps: r.audioKbps }))
  }
  const portrait = probe.height > probe.width
  const short = Math.min(probe.width, probe.height)
  const long = Math.max(probe.width, probe.height)
  const fpsFactor = outputFps(probe) > 30 ? 1.5 : 1
  const audioKbps = probe.hasAudio ? AUDIO_KBPS : 0
  const copyable = (options.passthrough ?? true) && isCopyable(probe)

  const names = [...new Set(requested)].sort((a, b) => VIDEO_RUNGS[b].size - VIDEO_RUNGS[a].size)
  const variants: VideoVariant[] = []
  for (const name of names) {
    const { size, videoKbps } = VIDEO_RUNGS[name]
    if (size > short) continue
    const native = size === short
    const copy = native && copyable && variants.length === 0
    // Keep the aspect ratio; an encoded size is even (4:2:0) and never past the input on either
    // side; a copy is the input as it is.
    const evenLong = long - (long % 2)
    const other = copy ? long : native ? evenLong : Math.min(evenLong, even((long * size) / short))
    const [width, height] = portrait ? [size, other] : [other, size]
    variants.push({ kind: 'video', name, width, height, copy, videoKbps: copy ? 0 : Math.round(videoKbps * fpsFactor), audioKbps })
  }
  if (variants.length === 0) {
    // A small input (say 426x240 for a 720/480/360 job): one rung at its own size.
    const base = [...Object.values(VIDEO_RUNGS)].reverse().find((r) => r.size >= short) ?? VIDEO_RUNGS['1080p']
    variants.push({
      kind: 'video',
      name: `${short}p`,
      width: probe.width - (probe.width % 2),
      height: probe.height - (probe.height % 2),
      copy: copyable,
      videoKbps: copyable ? 0 : Math.round(Math.min(base.videoKbps, (base.videoKbps * short) / base.size) * fpsFactor),
      audioKbps,
    })
    // A copy keeps odd sizes as they are.
    if (copyable) Object.assign(variants[0], { width: probe.width, height: probe.height })
  }
  return variants
}

/**
 * Bits per second of a variant as ffmpeg's master playlist states it (target video + audio,
 * plus 10 %), for the 6311 result. A copied rung counts the streamer's bitrate when known.
 */
export function variantBandwidth(v: VariantPlan, inputVideoKbps = 0): number {
  const video = v.kind === 'video' ? (v.copy ? inputVideoKbps : v.videoKbps) : 0
  return Math.round((video + v.audioKbps) * 1100)
}
