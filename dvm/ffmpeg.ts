import { spawn } from 'node:child_process'
import type { MediaProbe } from './ladder.ts'

/**
 * Spawning ffmpeg and ffprobe: argv arrays only (never a shell), an AbortSignal that stops the
 * child (SIGTERM, which ffmpeg treats like 'q': it finishes the segment and writes its trailer,
 * then SIGKILL if it lingers), `-progress` parsed into health figures, and every line of output
 * redacted of secrets (the pull URL carries the stream key) before anyone sees it.
 */

export interface FfmpegProgress {
  frame: number
  fps: number
  /** Output bitrate in kbit/s when ffmpeg knows it (not for HLS output). */
  bitrateKbps?: number
  /** Media time written so far, in seconds. */
  outTimeSeconds: number
  dupFrames: number
  dropFrames: number
  /** 1 = real time. */
  speed: number
  /** The last block, written as ffmpeg ends. */
  end: boolean
}

const num = (v: string | undefined): number => {
  const n = Number.parseFloat(v ?? '')
  return Number.isFinite(n) ? n : 0
}

/** One `-progress` block (key=value lines up to `progress=continue|end`) to figures. Never throws. */
export function parseProgressBlock(fields: Readonly<Record<string, string>>): FfmpegProgress {
  const progress: FfmpegProgress = {
    frame: num(fields.frame),
    fps: num(fields.fps),
    outTimeSeconds: fields.out_time_us !== undefined && fields.out_time_us !== 'N/A' ? num(fields.out_time_us) / 1e6 : parseClock(fields.out_time),
    dupFrames: num(fields.dup_frames),
    dropFrames: num(fields.drop_frames),
    speed: num(fields.speed?.replace(/x$/, '')),
    end: fields.progress === 'end',
  }
  const bitrate = /^([0-9.]+)kbits\/s$/.exec(fields.bitrate ?? '')
  if (bitrate) progress.bitrateKbps = Number(bitrate[1])
  return progress
}

function parseClock(v: string | undefined): number {
  const m = /^(-?)(\d+):(\d\d):(\d\d(?:\.\d+)?)$/.exec(v ?? '')
  if (!m) return 0
  const s = Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4])
  return m[1] ? -s : s
}

/** Feeds text chunks (split anywhere) and calls back once per complete progress block. */
export function createProgressParser(onProgress: (p: FfmpegProgress) => void): (chunk: string) => void {
  let buffer = ''
  let fields: Record<string, string> = {}
  return (chunk) => {
    buffer += chunk
    let nl: number
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim()
      buffer = buffer.slice(nl + 1)
      const eq = line.indexOf('=')
      if (eq <= 0) continue
      const key = line.slice(0, eq)
      fields[key] = line.slice(eq + 1).trim()
      if (key === 'progress') {
        onProgress(parseProgressBlock(fields))
        fields = {}
      }
    }
  }
}

/** Replaces every occurrence of each secret (and its URL-encoded form) with ***. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text
  for (const secret of secrets) {
    if (secret.length < 4) continue
    for (const form of new Set([secret, encodeURIComponent(secret)])) out = out.split(form).join('***')
  }
  return out
}

export interface RunOptions {
  args: readonly string[]
  /** Stops the child: SIGTERM, then SIGKILL after `killAfterMs`. */
  signal?: AbortSignal
  /** Default 'ffmpeg'. */
  binary?: string
  /** SIGKILL after this many ms (default 5000). */
  killAfterMs?: number
  /** Strings masked in everything reported (stderr lines, errors). */
  secrets?: readonly string[]
  onProgress?: (p: FfmpegProgress) => void
  /** Each stderr line, already redacted. */
  onStderrLine?: (line: string) => void
}

export interface FfmpegExit {
  code: number | null
  signal: NodeJS.Signals | null
  /** Stopped through the AbortSignal (a requested stop, not a crash). */
  aborted: boolean
  /** Last stderr lines, redacted. */
  stderrTail: string[]
  /** The process could not be started at all. */
  spawnError?: string
}

export interface FfmpegProcess {
  pid: number | undefined
  exited: Promise<FfmpegExit>
}

export function runFfmpeg(options: RunOptions): FfmpegProcess {
  const secrets = options.secrets ?? []
  const child = spawn(options.binary ?? 'ffmpeg', [...options.args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const tail: string[] = []
  let aborted = false
  let killTimer: NodeJS.Timeout | undefined
  let spawnError: string | undefined

  const parse = createProgressParser((p) => options.onProgress?.(p))
  child.stdout.setEncoding('utf8').on('data', parse)
  let partial = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split(/\r?\n/)
    partial = lines.pop() ?? ''
    for (const raw of lines) {
      if (raw.trim() === '') continue
      const line = redact(raw, secrets)
      tail.push(line)
      if (tail.length > 20) tail.shift()
      options.onStderrLine?.(line)
    }
  })

  const running = (): boolean => child.exitCode === null && child.signalCode === null
  const stop = (): void => {
    if (aborted || !running()) return
    aborted = true
    child.kill('SIGTERM')
    // Never a second SIGTERM: ffmpeg would then abort I/O through its interrupt callback, and a
    // playlist it was rewriting ends up empty. SIGKILL leaves the last complete playlist (they
    // are renamed into place) and loses only the unfinished segment. ffmpeg checks for the
    // signal between packets, so a read blocked on a silent input waits for -rw_timeout or this.
    killTimer = setTimeout(() => running() && child.kill('SIGKILL'), options.killAfterMs ?? 5000)
    killTimer.unref()
  }
  if (options.signal?.aborted) queueMicrotask(stop)
  else options.signal?.addEventListener('abort', stop, { once: true })

  const exited = new Promise<FfmpegExit>((resolve) => {
    child.once('error', (err) => {
      spawnError = redact(err.message, secrets)
    })
    child.once('close', (code, signal) => {
      clearTimeout(killTimer)
      options.signal?.removeEventListener('abort', stop)
      if (partial.trim() !== '') tail.push(redact(partial, secrets))
      resolve({ code, signal, aborted, stderrTail: tail, ...(spawnError !== undefined ? { spawnError } : {}) })
    })
  })
  return { pid: child.pid, exited }
}

export class ProbeError extends Error {
  override readonly name = 'ProbeError'
}

export interface ProbeOptions {
  signal?: AbortSignal
  /** Default 'ffprobe'. */
  binary?: string
  /** Default 10 s. */
  timeoutMs?: number
  /** Masked in the error message (the URL itself is always masked). */
  secrets?: readonly string[]
}

interface FfprobeStream {
  codec_type?: string
  codec_name?: string
  width?: number
  height?: number
  pix_fmt?: string
  avg_frame_rate?: string
  r_frame_rate?: string
}

/** Reads codecs, size and frame rate of a live URL or a file. Throws ProbeError, never with the URL. */
export async function probeStream(url: string, options: ProbeOptions = {}): Promise<MediaProbe> {
  const secrets = [url, ...(options.secrets ?? [])]
  // -fpsprobesize 0: take the frame rate from the stream's metadata instead of waiting ~1 s to
  // count frames; the publish is playable that much sooner.
  const args = ['-v', 'error', '-fpsprobesize', '0', '-show_entries', 'stream=codec_type,codec_name,width,height,pix_fmt,avg_frame_rate,r_frame_rate', '-of', 'json']
  if (/^rtmps?:/.test(url)) args.push('-rw_timeout', String((options.timeoutMs ?? 10_000) * 1000))
  args.push(url)
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 10_000)
  const relay = (): void => controller.abort()
  options.signal?.addEventListener('abort', relay, { once: true })
  if (options.signal?.aborted) controller.abort()
  try {
    const { stdout, stderr, code, killed } = await new Promise<{ stdout: string; stderr: string; code: number | null; killed: boolean }>((resolve, reject) => {
      const child = spawn(options.binary ?? 'ffprobe', args, { stdio: ['ignore', 'pipe', 'pipe'], signal: controller.signal, killSignal: 'SIGKILL' })
      let stdout = ''
      let stderr = ''
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)))
      child.once('error', (err) => {
        if ((err as NodeJS.ErrnoException).code === 'ABORT_ERR') return
        reject(new ProbeError(`ffprobe could not run: ${redact(err.message, secrets)}`))
      })
      child.once('close', (code) => resolve({ stdout, stderr, code, killed: controller.signal.aborted }))
    })
    if (killed) throw new ProbeError(options.signal?.aborted ? 'probe aborted' : 'probe timed out')
    if (code !== 0) throw new ProbeError(`ffprobe failed: ${redact(stderr.trim().split('\n').pop() ?? '', secrets) || `exit ${code}`}`)
    let streams: FfprobeStream[]
    try {
      streams = (JSON.parse(stdout) as { streams?: FfprobeStream[] }).streams ?? []
    } catch (err) {
      throw new ProbeError('ffprobe printed something that is not JSON', { cause: err })
    }
    return toMediaProbe(streams)
  } finally {
    clearTimeout(timer)
    options.signal?.removeEventListener('abort', relay)
  }
}

export function toMediaProbe(streams: readonly FfprobeStream[]): MediaProbe {
  const v = streams.find((s) => s.codec_type === 'video')
  const a = streams.find((s) => s.codec_type === 'audio')
  const probe: MediaProbe = {
    hasVideo: v !== undefined && (v.width ?? 0) > 0 && (v.height ?? 0) > 0,
    hasAudio: a !== undefined,
    width: v?.width ?? 0,
    height: v?.height ?? 0,
    fps: parseRate(v?.avg_frame_rate) || parseRate(v?.r_frame_rate),
  }
  if (v?.codec_name) probe.videoCodec = v.codec_name
  if (v?.pix_fmt) probe.pixelFormat = v.pix_fmt
  if (a?.codec_name) probe.audioCodec = a.codec_name
  return probe
}

/** "30000/1001" → 29.97; "0/0" and nonsense → 0. */
export function parseRate(rate: string | undefined): number {
  const m = /^(\d+)(?:\/(\d+))?$/.exec(rate ?? '')
  if (!m) return 0
  const den = m[2] === undefined ? 1 : Number(m[2])
  const value = den === 0 ? 0 : Number(m[1]) / den
  return Number.isFinite(value) && value > 0 && value <= 1000 ? value : 0
}
