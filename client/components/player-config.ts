import type { HlsConfig } from 'hls.js'

/**
 * hls.js settings for live playback, tuned with `npm run bench:e2e` (glass-to-glass measured from
 * stamped frames; see README "Latency"). With the transcoder's 1 s segments a new segment is
 * listed ≈0.4 s after its last frame and hls.js sees it on its next playlist refresh (every
 * target duration), so playing closer than ≈2 segments behind the playlist's end outruns the
 * buffer: 1.5 s stalled twice a minute here, 2 segments once (0.09 s), 2.3 segments at most one
 * 10 ms blip a minute at ≈2.2 s glass-to-glass (p95 2.3 s, with the 720p/480p/360p ladder).
 * Counted in target durations so a transcoder with longer segments still works.
 * A stall adds up to one segment to the target (hls.js liveSyncOnStallIncrease); playing up to
 * 15 % faster wins it back without a seek, and beyond 6 segments behind hls.js jumps to the edge.
 * lowLatencyMode only matters once the origin serves LL-HLS parts (ffmpeg 5.1 writes none).
 */
export const HLS_CONFIG: Partial<HlsConfig> = {
  lowLatencyMode: true,
  liveSyncDurationCount: 2.3,
  liveMaxLatencyDurationCount: 6,
  maxLiveSyncPlaybackRate: 1.15,
  backBufferLength: 30,
  maxBufferLength: 10,
  manifestLoadingMaxRetry: 2,
  levelLoadingMaxRetry: 4,
  fragLoadingMaxRetry: 4,
  startLevel: -1,
  capLevelToPlayerSize: true,
}

/**
 * How long to wait before asking again for a playlist that is not there yet (no signal): the
 * transcoder lists its first segments ≈1.5–2.5 s after OBS connects, so 1.5 s keeps the time to
 * first frame short without hammering the origin.
 */
export const WAITING_RETRY_MS = 1500
