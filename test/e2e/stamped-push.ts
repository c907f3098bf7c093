import { spawn } from 'node:child_process'
import { drawStamp } from './stamp.ts'

/**
 * OBS with a clock: this process draws each frame (a still gradient, a moving bar, and the stamp
 * of Date.now() at the moment the frame is handed over) and ffmpeg encodes it as OBS would
 * (x264 zerolatency, fixed keyframe interval, AAC) and pushes it over RTMP. Frames are paced by
 * the wall clock here, so a stamp is the frame's capture time, whatever ffmpeg does with it.
 */
export interface StampedPushOptions {
  /** rtmp://host:port/app/key */
  url: string
  width?: number
  height?: number
  fps?: number
  /** OBS "Keyframe Interval", seconds. */
  keyframeSeconds?: number
  videoBitrateKbps?: number
  signal?: AbortSignal
}

export interface StampedPush {
  pid: number | undefined
  /** Date.now() when ffmpeg was started (the "OBS connects" moment). */
  startedAt: number
  framesSent(): number
  /** Frames skipped because ffmpeg had not taken the previous ones yet (OBS: "skipped due to encoding lag"). */
  framesSkipped(): number
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>
}

export function buildStampedPushArgs(o: Required<Pick<StampedPushOptions, 'url' | 'width' | 'height' | 'fps' | 'keyframeSeconds' | 'videoBitrateKbps'>>): string[] {
  const gop = String(Math.round(o.fps * o.keyframeSeconds))
  const kbps = o.videoBitrateKbps
  return [
    '-hide_banner', '-nostdin', '-loglevel', 'error',
    // Timestamps from arrival: a frame skipped because the encoder lags (as OBS skips them) leaves
    // a gap that -fps_mode cfr fills, so media time keeps pace with the wall clock.
    '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-video_size', `${o.width}x${o.height}`, '-framerate', String(o.fps), '-use_wallclock_as_timestamps', '1', '-i', 'pipe:0',
    // The tone paced to real time (-re on this input only) and cut when the video ends.
    '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-shortest',
    '-map', '0:v', '-map', '1:a', '-fps_mode:v', 'cfr', '-r', String(o.fps),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
    '-g', gop, '-keyint_min', gop, '-sc_threshold', '0',
    '-b:v', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${kbps}k`,
    '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2',
    '-flush_packets', '1', '-f', 'flv', o.url,
  ]
}

export function pushStampedStream(options: StampedPushOptions): StampedPush {
  const o = { width: 1280, height: 720, fps: 30, keyframeSeconds: 1, videoBitrateKbps: 2500, ...options }
  const ySize = o.width * o.height
  const frame = Buffer.alloc(ySize + ySize / 2, 128)
  const background = Buffer.alloc(ySize)
  for (let y = 0; y < o.height; y++) {
    for (let x = 0; x < o.width; x++) background[y * o.width + x] = 40 + Math.round((150 * (x + y)) / (o.width + o.height))
  }

  const startedAt = Date.now()
  const child = spawn('ffmpeg', buildStampedPushArgs(o), { stdio: ['pipe', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-8000)))
  child.stdin.on('error', () => undefined) // EPIPE when ffmpeg goes first; its exit says why
  let sent = 0
  let skipped = 0
  /** More than this many frames waiting for ffmpeg means it lags: skip rather than queue stale frames. */
  const MAX_QUEUED = 2
  let timer: NodeJS.Timeout | undefined
  let stopped = false

  const sendFrame = (): void => {
    if (stopped) return
    if (child.stdin.writableLength >= frame.length * MAX_QUEUED) {
      skipped++
      return schedule()
    }
    background.copy(frame, 0, 0, ySize)
    const bar = (sent * 8) % o.width
    for (let y = Math.round(o.height / 8); y < o.height; y++) frame.fill(235, y * o.width + bar, y * o.width + Math.min(o.width, bar + 16))
    drawStamp(frame, o.width, o.height, Date.now())
    child.stdin.write(Buffer.from(frame))
    sent++
    schedule()
  }
  let tick = 0
  const schedule = (): void => {
    tick++
    // Paced from the start, not from the last frame, so timer jitter does not accumulate.
    const due = startedAt + (tick * 1000) / o.fps
    timer = setTimeout(sendFrame, Math.max(0, due - Date.now()))
  }
  sendFrame()

  const stop = (): void => {
    stopped = true
    clearTimeout(timer)
    child.stdin.end()
    // ffmpeg finishes the stream on end of input; a stuck one is killed.
    setTimeout(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'), 5000).unref()
  }
  if (options.signal?.aborted) stop()
  else options.signal?.addEventListener('abort', stop, { once: true })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    child.once('close', (code, signal) => {
      stopped = true
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', stop)
      resolve({ code, signal, stderr })
    })
  })
  return { pid: child.pid, startedAt, framesSent: () => sent, framesSkipped: () => skipped, exited }
}
