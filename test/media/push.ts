import { execFile, spawn } from 'node:child_process'
import { mkdir, rename, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * A synthetic OBS: ffmpeg pushing a test pattern and a tone over RTMP, in real time, with the
 * settings the go-live page recommends (H.264 with a 2 s keyframe interval, AAC).
 */
export interface PushOptions {
  /** rtmp://host:port/app/key */
  url: string
  width?: number
  height?: number
  fps?: number
  /** Seconds to push, then stop cleanly; unset: until aborted. */
  seconds?: number
  /** Keyframe interval in seconds (OBS "Keyframe Interval"). */
  keyframeSeconds?: number
  videoBitrateKbps?: number
  audio?: boolean
  video?: boolean
  signal?: AbortSignal
  /**
   * Push this pre-encoded file in a loop (`-c copy`) instead of encoding live: same stream on the
   * wire, almost no CPU, so the transcoder under test gets the cores. See `ensureTestClip`.
   */
  clip?: string
}

export interface Push {
  /** Resolves with ffmpeg's exit code (null when killed by a signal) and its stderr. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>
  pid: number | undefined
}

export function buildPushArgs(o: PushOptions): string[] {
  if (o.clip !== undefined) {
    const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', o.clip]
    if (o.seconds !== undefined) args.push('-t', String(o.seconds))
    args.push('-c', 'copy', '-f', 'flv', o.url)
    return args
  }
  const width = o.width ?? 1280
  const height = o.height ?? 720
  const fps = o.fps ?? 30
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re']
  const video = o.video ?? true
  const audio = o.audio ?? true
  if (video) args.push('-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}`)
  if (audio) args.push('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000')
  if (o.seconds !== undefined) args.push('-t', String(o.seconds))
  if (video) {
    const kbps = o.videoBitrateKbps ?? 2500
    const gop = Math.round(fps * (o.keyframeSeconds ?? 2))
    args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p')
    args.push('-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0')
    args.push('-b:v', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${kbps * 2}k`)
  }
  if (audio) args.push('-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2')
  args.push('-f', 'flv', o.url)
  return args
}

export function pushTestStream(o: PushOptions): Push {
  const child = spawn('ffmpeg', buildPushArgs(o), { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-8000)))
  const onAbort = (): void => {
    child.kill('SIGKILL')
  }
  if (o.signal?.aborted) onAbort()
  else o.signal?.addEventListener('abort', onAbort, { once: true })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    child.once('close', (code, signal) => {
      o.signal?.removeEventListener('abort', onAbort)
      resolve({ code, signal, stderr })
    })
    child.once('error', () => resolve({ code: -1, signal: null, stderr }))
  })
  return { exited, pid: child.pid }
}

export interface ClipOptions {
  width: number
  height: number
  fps?: number
  /** Keyframe interval; the clip's length is a whole number of GOPs. */
  keyframeSeconds?: number
  seconds?: number
  videoBitrateKbps?: number
}

/**
 * A short test-pattern + tone clip encoded as OBS would (H.264 High, CBR-ish, AAC 48 kHz),
 * made once and kept in the temp directory for every test and benchmark that loops it.
 */
export async function ensureTestClip(o: ClipOptions): Promise<string> {
  const fps = o.fps ?? 30
  const kf = o.keyframeSeconds ?? 2
  const seconds = o.seconds ?? Math.max(4, kf * 2)
  const kbps = o.videoBitrateKbps ?? Math.round((o.width * o.height * fps) / 10_000)
  const dir = join(tmpdir(), 'relaycast-media-clips')
  const path = join(dir, `clip-${o.width}x${o.height}-${fps}fps-kf${kf}-${seconds}s-${kbps}k.flv`)
  if (await stat(path).then((s) => s.size > 0, () => false)) return path
  await mkdir(dir, { recursive: true })
  const tmp = `${path}.${process.pid}.tmp.flv`
  const gop = String(Math.round(fps * kf))
  const args = [
    '-hide_banner', '-nostdin', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${o.width}x${o.height}:rate=${fps}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-g', gop, '-keyint_min', gop, '-sc_threshold', '0',
    '-b:v', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${kbps * 2}k`,
    '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2',
    '-f', 'flv', tmp,
  ]
  await new Promise<void>((resolve, reject) =>
    execFile('ffmpeg', args, { timeout: 120_000 }, (err, _out, stderr) => (err ? reject(new Error(`making test clip failed: ${stderr}`, { cause: err })) : resolve())),
  )
  await rename(tmp, path) // atomic: parallel test files may race to make the same clip
  return path
}

/** A stand-in transcoder: ffmpeg pulling a stream and throwing it away. */
export function pullStream(url: string, signal?: AbortSignal): Push & { flowing: Promise<void> } {
  const child = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-nostats', '-progress', 'pipe:1', '-i', url, '-c', 'copy', '-f', 'null', '-'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-8000)))
  let onFlowing!: () => void
  const flowing = new Promise<void>((resolve) => (onFlowing = resolve))
  child.stdout.setEncoding('utf8').on('data', (d: string) => /frame=[1-9]/.test(d) && onFlowing())
  const onAbort = (): void => void child.kill('SIGKILL')
  signal?.addEventListener('abort', onAbort, { once: true })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    child.once('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort)
      resolve({ code, signal: sig, stderr })
    })
  })
  return { exited, pid: child.pid, flowing }
}
