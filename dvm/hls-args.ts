import { join } from 'node:path'
import type { Rendition } from '../protocol/job.ts'
import { AUDIO_KBPS, outputFps, planLadder } from './ladder.ts'
import type { MediaProbe, VariantPlan } from './ladder.ts'

/**
 * ffmpeg's argument array for one live input → an HLS ladder, as a pure function: one process,
 * one decode, `-filter_complex` split + scale, `-var_stream_map` writing master.m3u8 and one
 * playlist per variant. Spawned without a shell, so no element is ever quoted or joined.
 *
 * Choices (figures from MEDIA-NOTES, measured on a 2-core box):
 * - 1 s segments. Glass-to-glass with hls.js defaults was ≈5.6 s at 1 s, 8.4–9.7 s at 2 s and
 *   ≈14 s at 4 s; ≤2.5 s later needs the player to hold fewer segments, and that only works with
 *   short ones. A segment is max(hls_time, GOP), so the GOP is forced to exactly one segment.
 * - x264 superfast, no B-frames, frame threads, bilinear downscaling. The default ladder from
 *   1080p30 costs ≈0.8 CPU-s per media-s on a quiet box (veryfast ≈1.05, ultrafast ≈0.55–0.7;
 *   see test/bench/media.bench.ts): real time on 2 cores with more than half the box left for
 *   ingest, relay and origin, and for noisy camera input (+7 %). Ultrafast would save ~0.2 core
 *   but drops CABAC and most motion search, costing far more bitrate for the same picture;
 *   veryfast leaves too little headroom when anything else runs.
 *   Not `-tune zerolatency`: its sliced threads make every encode call synchronous, so ffmpeg's
 *   single main loop runs the three encoders one after another and, on a busy box, fell to
 *   0.76× real time using only 0.8 cores. Frame threads let them run side by side for ~3 frames
 *   (0.1 s) of encoder delay, nothing next to a 1 s segment; `-bf 0` keeps out the B-frame
 *   reorder delay. Bilinear scaling cut ≈0.1–0.2 CPU-s per media-s against bicubic, with no
 *   visible loss when only downscaling.
 * - Audio muxed into every video variant (not a separate audio group): each variant plays on its
 *   own in hls.js, Safari, ExoPlayer and VLC, and hls.js switches levels without juggling a
 *   second track. ffmpeg cannot share one encoded stream between variants, so AAC is encoded
 *   once per variant: ≈0.014 cores each.
 * - MPEG-TS segments: what ffmpeg 5.1's HLS muxer does best with var_stream_map and append_list.
 * - Aligned GOPs: keyframes forced at the same times on every encoded rung. When the top rung is
 *   passed through, its keyframes are the streamer's, so the encoded rungs follow the source's
 *   keyframes instead (`-force_key_frames source`) and segments are the streamer's keyframe
 *   interval long (OBS: set it to 1 s for the lowest latency).
 * - omit_endlist: a publisher that drops out and comes back within the grace period continues the
 *   same playlists (append_list adds the discontinuity), so ENDLIST is written only when the stream
 *   really ends (see playlist.ts). temp_file: a segment is visible under its name only when whole.
 */

export const X264_PRESETS = ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium'] as const
export type X264Preset = (typeof X264_PRESETS)[number]

export const DEFAULT_SEGMENT_SECONDS = 1
export const DEFAULT_PRESET: X264Preset = 'superfast'
/** Live window: 10 × 1 s, enough for hls.js to start 3 segments back and ride out a hiccup. */
export const DEFAULT_LIST_SIZE = 10
export const MASTER_PLAYLIST = 'master.m3u8'
/** Segment keyframes when passing the top rung through and the streamer's GOP is unknown. */
const COPY_MAX_GOP_SECONDS = 20

export interface HlsArgsInput {
  /** Where ffmpeg reads the live stream (the ingest pull URL). */
  input: string
  /** Directory for master.m3u8, <variant>.m3u8 and <variant>-<n>.ts. */
  outputDir: string
  renditions: readonly Rendition[] | 'audio'
  probe: MediaProbe
  segmentSeconds?: number
  preset?: X264Preset
  listSize?: number
  /** Pass the top rung through when the input matches it (default true). */
  passthrough?: boolean
  /** Continue existing playlists (reconnect, restart): ffmpeg adds a discontinuity. */
  resume?: boolean
  /** Delete segments that left the live window (default true; a recording keeps its own copy). */
  deleteSegments?: boolean
  /** Seconds without input data before ffmpeg gives up (network stall). */
  readTimeoutSeconds?: number
  /** Also keep the input, untouched, as a fragmented MP4 here (see recording.ts). */
  recordPath?: string
}

export interface HlsPlan {
  args: string[]
  variants: VariantPlan[]
  segmentSeconds: number
}

/** The variant playlist of a variant, relative to the stream's directory. */
export const variantPlaylist = (name: string): string => `${name}.m3u8`

export function buildHlsArgs(input: HlsArgsInput): string[] {
  return planHls(input).args
}

export function planHls(input: HlsArgsInput): HlsPlan {
  const segmentSeconds = input.segmentSeconds ?? DEFAULT_SEGMENT_SECONDS
  if (!(segmentSeconds > 0 && segmentSeconds <= 10)) throw new RangeError(`segmentSeconds must be in (0, 10], got ${segmentSeconds}`)
  const variants = planLadder(input.renditions, input.probe, { passthrough: input.passthrough })
  if (variants.length === 0) {
    throw new RangeError(input.renditions === 'audio' || !input.probe.hasVideo ? 'the stream has no sound to make audio renditions from' : 'the stream has neither video nor sound')
  }
  const preset = input.preset ?? DEFAULT_PRESET
  const fps = outputFps(input.probe)
  const listSize = input.listSize ?? DEFAULT_LIST_SIZE

  const args = ['-hide_banner', '-nostdin', '-loglevel', 'warning', '-nostats', '-progress', 'pipe:1']
  const timeout = input.readTimeoutSeconds ?? 10
  if (/^rtmps?:/.test(input.input)) args.push('-rw_timeout', String(Math.round(timeout * 1_000_000)))
  // The input was just probed: do not spend another second counting frames to guess the rate.
  args.push('-fpsprobesize', '0', '-i', input.input)

  const video = variants.filter((v) => v.kind === 'video')
  const audio = variants.map((v) => v.audioKbps > 0)
  const anyCopy = video.some((v) => v.copy)
  const encoded = video.filter((v) => !v.copy)

  if (encoded.length > 0) {
    const labels = encoded.map((_, i) => `s${i}`)
    const head = encoded.length > 1 ? `[0:v:0]split=${encoded.length}${labels.map((l) => `[${l}]`).join('')};` : ''
    const chains = encoded.map((v, i) => {
      const from = encoded.length > 1 ? `[${labels[i]}]` : '[0:v:0]'
      // Above MAX_FPS the frame rate is brought down in the same chain (GOPs count frames).
      const rate = input.probe.fps > fps ? `,fps=${fps}` : ''
      return `${from}scale=${v.width}:${v.height}:flags=bilinear${rate},format=yuv420p[v${i}]`
    })
    args.push('-filter_complex', head + chains.join(';'))
  }

  // Output streams: all video first (v:0…), then all audio (a:0…), in ladder order.
  let encodedIndex = 0
  for (const v of video) args.push('-map', v.copy ? '0:v:0' : `[v${encodedIndex++}]`)
  for (let i = 0; i < variants.length; i++) if (audio[i]) args.push('-map', '0:a:0')

  const gop = Math.max(1, Math.round(fps * segmentSeconds))
  video.forEach((v, i) => {
    if (v.copy) {
      args.push(`-c:v:${i}`, 'copy')
      return
    }
    args.push(`-c:v:${i}`, 'libx264', `-preset:v:${i}`, preset, `-bf:v:${i}`, '0')
    args.push(`-b:v:${i}`, `${v.videoKbps}k`, `-maxrate:v:${i}`, `${Math.round(v.videoKbps * 1.1)}k`, `-bufsize:v:${i}`, `${v.videoKbps}k`)
    if (anyCopy) {
      args.push(`-force_key_frames:v:${i}`, 'source', `-g:v:${i}`, String(Math.round(fps * COPY_MAX_GOP_SECONDS)))
    } else {
      args.push(`-force_key_frames:v:${i}`, `expr:gte(t,n_forced*${segmentSeconds})`, `-g:v:${i}`, String(gop), `-keyint_min:v:${i}`, String(gop))
    }
    args.push(`-sc_threshold:v:${i}`, '0')
  })

  let audioIndex = 0
  variants.forEach((v, i) => {
    if (!audio[i]) return
    const a = audioIndex++
    args.push(`-c:a:${a}`, 'aac', `-b:a:${a}`, `${v.audioKbps || AUDIO_KBPS}k`, `-ac:a:${a}`, '2', `-ar:a:${a}`, '48000')
  })

  const flags = ['independent_segments', 'omit_endlist', 'temp_file']
  if (input.deleteSegments ?? true) flags.push('delete_segments')
  if (input.resume) flags.push('append_list')

  audioIndex = 0
  let videoIndex = 0
  const streamMap = variants
    .map((v, i) => {
      const parts: string[] = []
      if (v.kind === 'video') parts.push(`v:${videoIndex++}`)
      if (audio[i]) parts.push(`a:${audioIndex++}`)
      parts.push(`name:${v.name}`)
      return parts.join(',')
    })
    .join(' ')

  args.push(
    '-max_muxing_queue_size', '1024',
    '-f', 'hls',
    '-hls_time', String(segmentSeconds),
    '-hls_list_size', String(listSize),
    '-hls_delete_threshold', '3',
    '-hls_flags', flags.join('+'),
    '-hls_segment_type', 'mpegts',
    '-hls_segment_filename', join(input.outputDir, '%v-%d.ts'),
    '-master_pl_name', MASTER_PLAYLIST,
    '-var_stream_map', streamMap,
    join(input.outputDir, '%v.m3u8'),
  )
  if (input.recordPath !== undefined) args.push(...recordingOutputArgs(input.probe, input.renditions === 'audio', input.recordPath))
  return { args, variants, segmentSeconds }
}

/**
 * A second output of the same ffmpeg: the streamer's own packets (`-c copy`, no decode, no
 * encode, the best quality there is), as fragmented MP4 so that whatever has been written stays
 * playable if ffmpeg is killed (a plain MP4 needs its trailer). An audio job keeps the sound only.
 */
export function recordingOutputArgs(probe: MediaProbe, audioOnly: boolean, path: string): string[] {
  const args: string[] = []
  if (probe.hasVideo && !audioOnly) args.push('-map', '0:v:0')
  if (probe.hasAudio) args.push('-map', '0:a:0')
  if (args.length === 0) return []
  args.push('-c', 'copy', '-max_muxing_queue_size', '1024', '-f', 'mp4', '-movflags', '+frag_keyframe+empty_moov+default_base_moof', path)
  return args
}
