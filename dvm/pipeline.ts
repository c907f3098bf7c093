import { watch } from 'node:fs'
import type { FSWatcher } from 'node:fs'
import { mkdir, readdir } from 'node:fs/promises'
import type { Rendition } from '../protocol/job.ts'
import type { StreamHealth } from '../protocol/metrics.ts'
import type { Log, PublishSession } from '../ingest/types.ts'
import { probeStream, runFfmpeg } from './ffmpeg.ts'
import type { FfmpegProgress } from './ffmpeg.ts'
import { planHls } from './hls-args.ts'
import type { X264Preset } from './hls-args.ts'
import type { MediaProbe, VariantPlan } from './ladder.ts'
import { endPlaylists, isPlayable, readSequences, recordDiscontinuity } from './playlist.ts'
import { nextPartPath } from './recording.ts'

/**
 * One stream's transcoder, across its publishes: probe → ladder → ffmpeg pulling from ingest →
 * HLS in `outputDir`. The DVM calls `attach` when a publish starts and `detach` when the
 * publisher leaves; a publisher back within the grace period continues the same playlists (with a
 * discontinuity), otherwise the playlists are ended. ffmpeg dying while media flows is restarted
 * once; a second death fails the stream. The stream key lives only in the pull URL, which is
 * passed to ffmpeg and masked in everything logged.
 */

export const DEFAULT_GRACE_MS = 30_000
/** A run this long resets the restart budget. */
const HEALTHY_RUN_MS = 60_000

/** What the media side tells the job side (7000 feedback, 31337 metrics). */
export type PipelineEvent =
  /** The master playlist and every variant are playable. */
  | { type: 'live'; variants: VariantPlan[]; probe: MediaProbe; resumed: boolean }
  /** The publisher left; the stream waits `graceMs` for it to come back. */
  | { type: 'reconnecting'; graceMs: number }
  /** ffmpeg died while media flowed and was started again. */
  | { type: 'restarted'; reason: string }
  /** The stream is over and its playlists end with ENDLIST. */
  | { type: 'ended'; reason: 'publisher-left' | 'stopped' }
  /** The stream could not go on (probe failed, ffmpeg died twice); playlists are ended. */
  | { type: 'failed'; reason: string }

export type PipelineState = 'idle' | 'starting' | 'live' | 'reconnecting' | 'ended' | 'failed'

export interface Health {
  /** Incoming bitrate from the streamer, over the last interval. */
  bitrateKbps: number
  fps: number
  width: number
  height: number
  droppedFrames: number
  speed: number
  health: StreamHealth
  /** Media seconds the current ffmpeg run has written. */
  outTimeSeconds: number
}

/** What the pipeline needs from an ingest publish. */
export type MediaSource = Pick<PublishSession, 'id' | 'pullUrl' | 'bytesIn'>

export interface PipelineOptions {
  /** Public id (directory and URL segment); never derived from the key. */
  streamId: string
  /** Directory the playlists and segments go to (created). */
  outputDir: string
  renditions: readonly Rendition[] | 'audio'
  segmentSeconds?: number
  preset?: X264Preset
  listSize?: number
  passthrough?: boolean
  deleteSegments?: boolean
  /** How long a publisher may be gone before the stream ends (default 30 s). */
  graceMs?: number
  /** ffmpeg deaths restarted per publish (and per minute of good running) before the stream fails (default 1). */
  restarts?: number
  /** Keep the input as recording parts here, one per run (see recording.ts); unset: no recording. */
  recordDir?: string
  /** Deadline for the first playable playlists after ffmpeg starts (default 20 s). */
  startTimeoutMs?: number
  ffmpegPath?: string
  ffprobePath?: string
  log?: Log
  onEvent?: (event: PipelineEvent) => void
  now?: () => number
}

export interface Pipeline {
  readonly streamId: string
  readonly state: PipelineState
  /** The ladder of the current (or last) run. */
  readonly variants: readonly VariantPlan[]
  /** A publish started (first or reconnect). */
  attach(source: MediaSource): void
  /** The publisher left: stop ffmpeg cleanly and wait out the grace period. */
  detach(): void
  /** End now (job revoked, shutdown): stop ffmpeg, end the playlists. */
  stop(): Promise<void>
  /** Latest figures while ffmpeg runs. */
  health(): Health | undefined
  /** Settles once the stream is ended or failed. */
  readonly finished: Promise<Extract<PipelineEvent, { type: 'ended' | 'failed' }>>
}

export function classifyHealth(speed: number, droppedFraction: number): StreamHealth {
  if (speed >= 0.95 && droppedFraction < 0.01) return 'good'
  if (speed >= 0.8 && droppedFraction < 0.05) return 'degraded'
  return 'bad'
}

export function createPipeline(options: PipelineOptions): Pipeline {
  const log: Log = options.log ?? (() => {})
  const now = options.now ?? Date.now
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS
  const dir = options.outputDir
  const stream = options.streamId

  let state: PipelineState = 'idle'
  let source: MediaSource | undefined
  /** Aborts the current run (probe + ffmpeg); replaced per run. */
  let run: AbortController | undefined
  let runDone: Promise<void> = Promise.resolve()
  let graceTimer: NodeJS.Timeout | undefined
  let restartsLeft = 0
  let runStartedAt = 0
  let everLive = false
  let variants: VariantPlan[] = []
  let probe: MediaProbe | undefined
  let latest: Health | undefined
  let bytesMark: { at: number; bytes: number } | undefined
  let finish!: (e: Extract<PipelineEvent, { type: 'ended' | 'failed' }>) => void
  const finished = new Promise<Extract<PipelineEvent, { type: 'ended' | 'failed' }>>((resolve) => (finish = resolve))

  const emit = (event: PipelineEvent): void => {
    try {
      options.onEvent?.(event)
    } catch (err) {
      log('error', 'pipeline event handler failed', { stream, event: event.type, error: (err as Error).message })
    }
  }

  function start(): void {
    const controller = new AbortController()
    run = controller
    runStartedAt = now()
    state = 'starting'
    runDone = runOnce(controller.signal).catch((err: Error) => {
      log('error', 'transcoder run failed', { stream, error: err.message })
      if (run?.signal === controller.signal) onRunFailure(`transcoder run failed: ${err.message}`)
    })
  }

  async function runOnce(signal: AbortSignal): Promise<void> {
    const current = source
    if (!current) return
    const secrets = [current.pullUrl]
    try {
      probe = await probeStream(current.pullUrl, { signal, binary: options.ffprobePath, secrets })
    } catch (err) {
      if (signal.aborted) return
      return onRunFailure(`could not read the stream: ${(err as Error).message}`)
    }
    if (signal.aborted) return
    await mkdir(dir, { recursive: true })
    // Playlists already there (a reconnect, a restart, a DVM restarted mid-stream): continue them.
    const continuing = await hasPlaylists()
    let recordPath: string | undefined
    if (options.recordDir !== undefined) {
      await mkdir(options.recordDir, { recursive: true })
      recordPath = await nextPartPath(options.recordDir)
    }
    let plan
    try {
      plan = planHls({
        input: current.pullUrl,
        outputDir: dir,
        renditions: options.renditions,
        probe,
        segmentSeconds: options.segmentSeconds,
        preset: options.preset,
        listSize: options.listSize,
        passthrough: options.passthrough,
        deleteSegments: options.deleteSegments,
        resume: continuing,
        recordPath,
      })
    } catch (err) {
      return void fail((err as Error).message)
    }
    if (variants.length > 0 && plan.variants.map((v) => v.name).join() !== variants.map((v) => v.name).join()) {
      log('warn', 'input changed shape on reconnect: the ladder changes', { stream, before: variants.map((v) => v.name).join(','), after: plan.variants.map((v) => v.name).join(',') })
    }
    variants = plan.variants
    const names = variants.map((v) => v.name)
    if (continuing) await recordDiscontinuity(dir, names)
    const baseline = await readSequences(dir, names)

    log('info', 'transcoder starting', { stream, session: current.id, ladder: variants.map((v) => (v.kind === 'video' && v.copy ? `${v.name}(copy)` : v.name)).join(','), input: `${probe.width}x${probe.height}@${probe.fps}`, resume: continuing })
    latest = undefined
    bytesMark = { at: now(), bytes: current.bytesIn() }
    const ff = runFfmpeg({
      args: plan.args,
      signal,
      binary: options.ffmpegPath,
      secrets,
      onProgress: (p) => onProgress(p, current),
      onStderrLine: (line) => log('debug', 'ffmpeg', { stream, line }),
    })
    const ready = waitPlayable(signal, names, baseline)
    ready.then((ok) => {
      if (!ok || signal.aborted || run?.signal !== signal) return
      state = 'live'
      const resumed = everLive
      everLive = true
      log('info', 'stream playable', { stream, resumed })
      emit({ type: 'live', variants, probe: probe!, resumed })
    })
    const exit = await ff.exited
    if (signal.aborted) return
    onRunFailure(exit.spawnError ?? `ffmpeg exited (${exit.signal ?? `code ${exit.code}`})${exit.stderrTail.length ? `: ${exit.stderrTail.at(-1)}` : ''}`, exit.spawnError === undefined)
  }

  async function hasPlaylists(): Promise<boolean> {
    const names = await readdir(dir).catch(() => [] as string[])
    return names.some((n) => n.endsWith('.m3u8') && n !== 'master.m3u8')
  }

  /** Resolves true when playable, false when the run is aborted or the deadline passes. */
  function waitPlayable(signal: AbortSignal, names: string[], baseline: Record<string, number | undefined>): Promise<boolean> {
    return new Promise((resolve) => {
      let watcher: FSWatcher | undefined
      let poll: NodeJS.Timeout | undefined
      let checking = false
      let again = false
      const deadline = setTimeout(() => {
        log('warn', 'no playable output yet', { stream, waitedMs: options.startTimeoutMs ?? 20_000 })
        done(false)
      }, options.startTimeoutMs ?? 20_000)
      const done = (ok: boolean): void => {
        clearTimeout(deadline)
        clearInterval(poll)
        watcher?.close()
        signal.removeEventListener('abort', onAbort)
        resolve(ok)
      }
      const onAbort = (): void => done(false)
      const check = async (): Promise<void> => {
        if (checking) return void (again = true)
        checking = true
        try {
          if (await isPlayable(dir, names, baseline)) return done(true)
        } catch (err) {
          log('warn', 'could not check playlists', { stream, error: (err as Error).message })
        } finally {
          checking = false
        }
        if (again) {
          again = false
          void check()
        }
      }
      signal.addEventListener('abort', onAbort, { once: true })
      // ffmpeg renames each playlist into place: every rename is a chance it became playable.
      try {
        watcher = watch(dir, (_event, name) => {
          if (name && name.endsWith('.m3u8')) void check()
        })
        watcher.on('error', (err) => log('warn', 'playlist watch failed', { stream, error: err.message }))
      } catch (err) {
        // No inotify (or the directory vanished): look twice a second instead.
        log('warn', 'cannot watch the playlists; polling', { stream, error: (err as Error).message })
        poll = setInterval(() => void check(), 500)
      }
      void check()
    })
  }

  function onProgress(p: FfmpegProgress, current: MediaSource): void {
    const t = now()
    let bitrateKbps = latest?.bitrateKbps ?? 0
    if (bytesMark && t - bytesMark.at >= 1000) {
      const bytes = current.bytesIn()
      bitrateKbps = Math.round(((bytes - bytesMark.bytes) * 8) / (t - bytesMark.at))
      bytesMark = { at: t, bytes }
    }
    const frames = p.frame + p.dropFrames
    latest = {
      bitrateKbps,
      fps: p.fps,
      width: probe?.width ?? 0,
      height: probe?.height ?? 0,
      droppedFrames: p.dropFrames,
      speed: p.speed,
      health: classifyHealth(p.speed, frames > 0 ? p.dropFrames / frames : 0),
      outTimeSeconds: p.outTimeSeconds,
    }
  }

  /** The run ended without being asked to (ffmpeg died, the probe failed): retry once, then fail. */
  function onRunFailure(why: string, retryable = true): void {
    log('warn', 'transcoder stopped unexpectedly', { stream, reason: why })
    if (!source) return // the publisher is gone as well; detach handles the rest
    // A run that went well for a while earns a new restart: one hiccup an hour is not a crash loop.
    if (now() - runStartedAt >= HEALTHY_RUN_MS) restartsLeft = Math.max(restartsLeft, options.restarts ?? 1)
    if (retryable && restartsLeft > 0) {
      restartsLeft--
      emit({ type: 'restarted', reason: why })
      start()
      return
    }
    void fail(why)
  }

  async function stopRun(): Promise<void> {
    run?.abort()
    run = undefined
    await runDone
  }

  async function finalize(event: Extract<PipelineEvent, { type: 'ended' | 'failed' }>): Promise<void> {
    if (state === 'ended' || state === 'failed') return
    state = event.type === 'ended' ? 'ended' : 'failed'
    clearTimeout(graceTimer)
    source = undefined
    await stopRun()
    try {
      await endPlaylists(dir, variants.map((v) => v.name))
    } catch (err) {
      log('error', 'could not end the playlists', { stream, error: (err as Error).message })
    }
    latest = undefined
    log('info', event.type === 'ended' ? 'stream ended' : 'stream failed', { stream, reason: event.reason })
    emit(event)
    finish(event)
  }

  const fail = (reason: string): Promise<void> => finalize({ type: 'failed', reason })

  return {
    streamId: stream,
    get state() {
      return state
    },
    get variants() {
      return variants
    },
    finished,
    attach(next) {
      if (state === 'ended' || state === 'failed') {
        log('warn', 'publish for a stream that is over: ignored', { stream, session: next.id })
        return
      }
      clearTimeout(graceTimer)
      const previous = run
      source = next
      restartsLeft = options.restarts ?? 1
      // A reconnect can arrive before the previous run has wound down: start after it.
      run = undefined
      previous?.abort()
      void runDone.then(() => {
        if (source === next && run === undefined && state !== 'ended' && state !== 'failed') start()
      })
    },
    detach() {
      if (state === 'ended' || state === 'failed' || !source) return
      source = undefined
      state = 'reconnecting'
      void stopRun()
      emit({ type: 'reconnecting', graceMs })
      graceTimer = setTimeout(() => void finalize({ type: 'ended', reason: 'publisher-left' }), graceMs)
      graceTimer.unref()
    },
    stop: () => finalize({ type: 'ended', reason: 'stopped' }),
    health: () => latest,
  }
}
