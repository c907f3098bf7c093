import { join } from 'node:path'
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js'
import type { KeyRegistry } from '../ingest/auth.ts'
import type { Log, PublishSession } from '../ingest/types.ts'
import { formatCoordinate } from '../protocol/coordinate.ts'
import { getDeletionTargets, isDeletedBy } from '../protocol/deletion.ts'
import { isExpired } from '../protocol/expiration.ts'
import { JobError, buildJobFeedback, buildTranscodeResult, getTranscodeRequest, parseTranscodeRequest } from '../protocol/job.ts'
import type { HlsVariant, JobFeedbackExtra, JobStatus, ParsedTranscodeRequest } from '../protocol/job.ts'
import { KIND_DELETION, KIND_TRANSCODE_REQUEST } from '../protocol/kinds.ts'
import type { EventTemplate, Filter, NostrEvent, SignatureCheck, Signer } from '../protocol/types.ts'
import { nobleSignatureCheck, verifyEvent } from '../protocol/verify.ts'
import { buildTranscoderMetrics, ladderVariants, plannedVariants } from './announce.ts'
import type { BlobInfo, Blossom } from './blossom.ts'
import type { Origin } from './origin.ts'
import { createPipeline } from './pipeline.ts'
import type { Pipeline, PipelineEvent, PipelineOptions } from './pipeline.ts'
import { finishRecording, removeRecordingDir } from './recording.ts'
import type { JobLedger } from './job-ledger.ts'
import { recoverInterrupted } from './recovery.ts'
import type { RecoveryReport } from './recovery.ts'

/**
 * The job lifecycle: 5311 requests in (validated, policed), 6311 + 7000 out, one pipeline per
 * accepted job, its key hash in the registry ingest consults. A newer request for the same
 * coordinate replaces the older (its key stops working, its publisher is dropped); a NIP-09
 * deletion or the request's expiration revokes it. The worker only ever sees key hashes.
 *
 * Results: a first 6311 as soon as the job is accepted (master URL, ingest URL, the requested
 * rungs without sizes), a newer one once the input is probed (the variants really made, at the
 * input's aspect ratio), and a last one carrying `recording` when a recording was kept. The newest
 * 6311 for a request is the current one; each is at least a second newer than the one before.
 * Every job that ends gets a final 7000 (`success`, or `error` when it never streamed or ffmpeg
 * died), with `recording` when there is one, except a deleted job (its author withdrew it, and
 * its recording is discarded) and a replaced one (the stream goes on under the new request).
 * With a ledger (job-ledger.ts), a restart neither starts a finished job again when the relay
 * resends its request, nor forgets a job the stop interrupted (recovery.ts concludes it).
 */

export interface WorkerPolicy {
  /** undefined: anyone may request. */
  allowPubkeys?: readonly string[]
  acceptUntargeted: boolean
  maxStreams: number
  maxRenditions: number
}

/** What happened to a request, for logs and tests. */
export type WorkerEvent =
  | { type: 'accepted'; jobId: string; streamId: string }
  | { type: 'refused'; jobId: string; reason: string }
  | { type: 'ignored'; jobId: string; reason: string }
  | { type: 'revoked'; jobId: string; reason: 'replaced' | 'deleted' | 'expired' | 'shutdown' }
  | { type: 'pipeline'; jobId: string; event: PipelineEvent }
  | { type: 'recording'; jobId: string; blob: BlobInfo; durationSeconds: number; parts: number }

export interface WorkerOptions {
  pubkey: string
  sign: Signer
  /** Sends a signed event to the relay; rejects when it is refused. */
  publish(event: NostrEvent): Promise<void>
  registry: KeyRegistry
  /** Drops a job's publisher (ingest.disconnect). */
  disconnect(jobId: string): boolean
  ingestUrl(): string
  /** Base of HLS URLs (without /hls). */
  publicUrl(): string
  origin: Pick<Origin, 'viewers' | 'forget'>
  hlsRoot: string
  /** Where recording parts are written while a stream runs (one directory per stream). */
  recordingsRoot?: string
  /** Where finished recordings go; without it, jobs asking for a recording are refused. */
  blossom?: Pick<Blossom, 'putFile'>
  /** Running and finished jobs, kept across restarts (job-ledger.ts); without it, memory only. */
  ledger?: JobLedger
  policy: WorkerPolicy
  metricsIntervalMs?: number
  pipeline?: Partial<Pick<PipelineOptions, 'preset' | 'segmentSeconds' | 'graceMs' | 'ffmpegPath' | 'ffprobePath'>>
  check?: SignatureCheck
  log?: Log
  /** Epoch ms. */
  now?: () => number
  onEvent?: (event: WorkerEvent) => void
}

export interface Worker {
  /** What to subscribe to on the relay. */
  filters(): Filter[]
  /** A 5311 or kind 5 from the relay. Never throws. */
  handleEvent(event: NostrEvent): Promise<void>
  onPublish(session: PublishSession): void
  onUnpublish(session: PublishSession): void
  /** Stream ids whose pipelines are not over (retention must not touch them). */
  isActive(streamId: string): boolean
  /** At start: end what a DVM stopped without closing left live, recover its recordings (recovery.ts). */
  recover(): Promise<RecoveryReport>
  readonly activeJobs: number
  close(): Promise<void>
}

interface Job {
  request: NostrEvent
  parsed: ParsedTranscodeRequest
  coord: string
  streamId: string
  pipeline: Pipeline
  expiryTimer?: NodeJS.Timeout
  metricsTimer?: NodeJS.Timeout
  revoked: boolean
  wasLive: boolean
  /** Some media reached the pipeline at some point (for the last words on shutdown). */
  everLive: boolean
  /** Recording parts directory, when the job asked for a recording. */
  recordDir?: string
  /** The variants of the last 6311 (to publish a newer one only when they change). */
  resultVariants: HlsVariant[]
  masterUrl: string
  /** created_at of the last 6311 and 7000 of this job: each newer than the last. */
  resultAt: number
  feedbackAt: number
}

/** Largest delay setTimeout takes; expirations further out are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1
const MAX_REMEMBERED = 10_000

/** Replaceable-event order: later created_at wins, then the lower id. */
function isNewer(a: { created_at: number; id: string }, b: { created_at: number; id: string }): boolean {
  return a.created_at !== b.created_at ? a.created_at > b.created_at : a.id < b.id
}

export function createWorker(options: WorkerOptions): Worker {
  const log: Log = options.log ?? (() => {})
  const now = options.now ?? Date.now
  const nowSeconds = (): number => Math.floor(now() / 1000)
  const check = options.check ?? nobleSignatureCheck
  const metricsIntervalMs = options.metricsIntervalMs ?? 5_000
  const jobs = new Map<string, Job>() // by coordinate
  const byId = new Map<string, Job>() // by request id
  const seen = new Set<string>()
  /** Deletions seen, by target id → deleter pubkeys: a request may arrive after its deletion. */
  const deleted = new Map<string, Set<string>>()
  /** Newest request per coordinate (accepted or not): older ones arriving late are stale. */
  const newest = new Map<string, { created_at: number; id: string }>()
  /** created_at of the last 31337 per coordinate. */
  const metricsAt = new Map<string, number>()
  let closed = false

  const emit = (event: WorkerEvent): void => {
    try {
      options.onEvent?.(event)
    } catch (err) {
      log('error', 'worker event handler failed', { error: (err as Error).message })
    }
  }

  /** Work still under way (publishing, joining recordings): close() waits for it. */
  const pending = new Set<Promise<unknown>>()
  function track<T>(p: Promise<T>): Promise<T> {
    pending.add(p)
    void p.finally(() => pending.delete(p)).catch(() => {})
    return p
  }

  function send(template: EventTemplate, what: string): Promise<void> {
    return track(
      (async () => {
        try {
          await options.publish(await options.sign(template))
        } catch (err) {
          log('warn', `could not publish ${what}`, { kind: template.kind, error: (err as Error).message })
        }
      })(),
    )
  }

  /** A created_at at least a second after the job's previous one of that kind, so "newest" is unambiguous. */
  function stamp(job: Job | undefined, which: 'resultAt' | 'feedbackAt'): number {
    if (!job) return nowSeconds()
    job[which] = Math.max(nowSeconds(), job[which] + 1)
    return job[which]
  }

  const feedback = (request: NostrEvent, status: JobStatus, message: string, extra?: JobFeedbackExtra, job?: Job): Promise<void> =>
    send(buildJobFeedback({ request, status, message, extra }, stamp(job, 'feedbackAt')), `7000 ${status}`)

  const result = (job: Job, recording?: string): Promise<void> =>
    send(
      buildTranscodeResult({ request: job.request, masterUrl: job.masterUrl, variants: job.resultVariants, ingestUrl: options.ingestUrl(), ...(recording !== undefined ? { recording } : {}) }, stamp(job, 'resultAt')),
      '6311 result',
    )

  function remember(set: Set<string>, id: string): void {
    if (set.size >= MAX_REMEMBERED) set.delete(set.values().next().value as string)
    set.add(id)
  }

  async function handleRequest(e: NostrEvent): Promise<void> {
    const target = e.tags.find((t) => t[0] === 'p')?.[1]
    if (target !== undefined && target !== options.pubkey) return // another DVM's job
    if (target === undefined && !options.policy.acceptUntargeted) return
    const genuine: boolean = verifyEvent(e, check)
    if (!genuine) return void log('warn', 'request with a bad signature ignored', { request: e.id })
    if (isExpired(e, nowSeconds())) {
      log('info', 'expired request ignored', { request: e.id })
      return emit({ type: 'ignored', jobId: e.id, reason: 'expired' })
    }
    if (deleted.get(e.id)?.has(e.pubkey)) return emit({ type: 'ignored', jobId: e.id, reason: 'deleted' })
    // Relays send stored requests again after a restart: one that is over stays over.
    if (options.ledger?.isFinished(e.id)) return emit({ type: 'ignored', jobId: e.id, reason: 'already finished' })

    let parsed: ParsedTranscodeRequest
    try {
      parsed = parseTranscodeRequest(e, { now: nowSeconds() })
    } catch (err) {
      if (!(err instanceof JobError)) throw err
      return refuse(e, err.message)
    }
    const coord = formatCoordinate(parsed.coordinate)
    const last = newest.get(coord)
    if (last && isNewer(last, e)) {
      return emit({ type: 'ignored', jobId: e.id, reason: 'a newer request for this stream exists' })
    }
    newest.set(coord, { created_at: e.created_at, id: e.id })

    const { policy } = options
    if (policy.allowPubkeys && !policy.allowPubkeys.includes(e.pubkey)) return refuse(e, 'refused by policy: this transcoder only takes jobs from its allow-list')
    if (parsed.record && !options.blossom) return refuse(e, 'refused by policy: this transcoder does not keep recordings')
    if (parsed.renditions !== 'audio' && parsed.renditions.length > policy.maxRenditions) {
      return refuse(e, `refused by policy: at most ${policy.maxRenditions} renditions per stream, asked for ${parsed.renditions.length}`)
    }
    const previous = jobs.get(coord)
    const others = jobs.size - (previous ? 1 : 0)
    if (others >= policy.maxStreams) return refuse(e, `refused by policy: this transcoder is busy (${policy.maxStreams} stream${policy.maxStreams === 1 ? '' : 's'} at most)`)

    if (previous) void revoke(previous, 'replaced')
    accept(e, parsed, coord)
  }

  function refuse(e: NostrEvent, reason: string): Promise<void> {
    log('info', 'request refused', { request: e.id, reason })
    emit({ type: 'refused', jobId: e.id, reason })
    return feedback(e, 'error', reason)
  }

  function accept(e: NostrEvent, parsed: ParsedTranscodeRequest, coord: string): void {
    // Random and public: nothing about the key can be learned from the URL.
    const streamId = bytesToHex(randomBytes(12))
    const rejection = options.registry.put({ jobId: e.id, keyHash: parsed.keyHash })
    if (rejection) return void refuse(e, rejection)
    const recordDir = parsed.record ? join(options.recordingsRoot ?? join(options.hlsRoot, '..', 'recording-parts'), streamId) : undefined
    const planned = plannedVariants(`${options.publicUrl()}/hls/${streamId}`, parsed.renditions)
    const job: Job = {
      request: e,
      parsed,
      coord,
      streamId,
      revoked: false,
      wasLive: false,
      everLive: false,
      recordDir,
      masterUrl: planned.masterUrl,
      resultVariants: planned.variants,
      resultAt: 0,
      feedbackAt: 0,
      pipeline: createPipeline({
        ...options.pipeline,
        streamId,
        outputDir: join(options.hlsRoot, streamId),
        renditions: parsed.renditions,
        ...(recordDir !== undefined ? { recordDir } : {}),
        log,
        onEvent: (event) => onPipelineEvent(job, event),
      }),
    }
    jobs.set(coord, job)
    byId.set(e.id, job)
    armExpiry(job)
    log('info', 'job accepted', { request: e.id, stream: streamId, coordinate: coord })
    emit({ type: 'accepted', jobId: e.id, streamId })
    const ingestUrl = options.ingestUrl()
    // Result first: a client that sees "waiting for OBS" can already read the URLs.
    void result(job).then(() => feedback(e, 'processing', 'waiting for OBS: point it at the ingest URL with your stream key', { live: false, ingestUrl }, job))
    // Should this process stop without closing, the next start knows this job was running.
    if (options.ledger) void track(options.ledger.start(streamId, e).catch((err: Error) => log('warn', 'could not note a running job', { request: e.id, error: err.message })))
  }

  /** The job is over for good, here and after a restart. */
  function markFinished(job: Pick<Job, 'streamId' | 'request' | 'parsed'>): Promise<void> {
    if (!options.ledger) return Promise.resolve()
    return track(options.ledger.finish(job.streamId, job.request, job.parsed.expiration).catch((err: Error) => log('warn', 'could not note a finished job', { request: job.request.id, error: err.message })))
  }

  function armExpiry(job: Job): void {
    const ms = job.parsed.expiration * 1000 - now()
    job.expiryTimer = setTimeout(() => {
      if (job.parsed.expiration * 1000 > now()) return armExpiry(job)
      void revoke(job, 'expired')
    }, Math.max(0, Math.min(ms, MAX_TIMER_MS)))
    job.expiryTimer.unref()
  }

  /** The job's key stops working now; its stream (if any) ends. */
  function revoke(job: Job, reason: Extract<WorkerEvent, { type: 'revoked' }>['reason']): Promise<void> {
    if (job.revoked) return Promise.resolve()
    job.revoked = true
    clearTimeout(job.expiryTimer)
    options.registry.remove(job.request.id)
    const dropped = options.disconnect(job.request.id)
    if (jobs.get(job.coord) === job) jobs.delete(job.coord)
    byId.delete(job.request.id)
    log('info', 'job revoked', { request: job.request.id, stream: job.streamId, reason, publisherDropped: dropped })
    void markFinished(job)
    emit({ type: 'revoked', jobId: job.request.id, reason })
    // A replacement carries the same stream on: no "ended" for it.
    if (reason === 'replaced') job.wasLive = false
    return track(
      job.pipeline.stop().then(async () => {
        finish(job)
        if (reason === 'deleted') {
          if (job.recordDir) await removeRecordingDir(job.recordDir)
          return
        }
        const recording = await keepRecording(job)
        if (recording) await result(job, recording.url)
        if (reason === 'replaced') return
        const extra: JobFeedbackExtra = { live: false, ...(recording ? { recording: recording.url } : {}) }
        const why = reason === 'expired' ? 'the request expired' : 'the transcoder shut down'
        if (job.everLive) await feedback(job.request, 'success', `the stream ended: ${why}`, extra, job)
        else await feedback(job.request, 'error', `${why} before OBS connected: send a new request to stream`, extra, job)
      }).catch((err: Error) => log('error', 'ending a revoked job failed', { request: job.request.id, error: err.message })),
    )
  }

  /**
   * Joins the job's recording parts and stores the result as a blob; undefined when the job did
   * not record or nothing was recorded. The parts are removed once the blob is stored.
   */
  async function keepRecording(job: Job): Promise<BlobInfo | undefined> {
    if (!job.recordDir) return undefined
    return storeRecording(job.recordDir, job.request, job.streamId)
  }

  async function storeRecording(dir: string, request: NostrEvent, streamId: string): Promise<BlobInfo | undefined> {
    if (!options.blossom) return undefined
    try {
      const done = await finishRecording(dir, { ffmpegPath: options.pipeline?.ffmpegPath, ffprobePath: options.pipeline?.ffprobePath, log })
      if (!done) {
        await removeRecordingDir(dir)
        return undefined
      }
      const blob = await options.blossom.putFile(done.path, done.mimeType)
      await removeRecordingDir(dir)
      log('info', 'recording kept', { request: request.id, stream: streamId, sha256: blob.sha256, bytes: blob.size, seconds: Math.round(done.durationSeconds), parts: done.parts })
      emit({ type: 'recording', jobId: request.id, blob, durationSeconds: done.durationSeconds, parts: done.parts })
      return blob
    } catch (err) {
      // The parts stay on disk for the operator; the stream's end is still announced.
      log('error', 'could not keep the recording', { request: request.id, stream: streamId, error: (err as Error).message })
      return undefined
    }
  }

  function finish(job: Job): void {
    clearInterval(job.metricsTimer)
    job.metricsTimer = undefined
    if (job.wasLive) void sendMetrics(job, 'ended')
    job.wasLive = false
  }

  function sendMetrics(job: Job, status: 'live' | 'ended'): Promise<void> {
    // 31337 is addressable: within one second the lower id would win, so a final "ended" could
    // lose to the last "live". Each one for a stream is a second newer than the one before.
    const at = Math.max(nowSeconds(), (metricsAt.get(job.coord) ?? 0) + 1)
    metricsAt.set(job.coord, at)
    const template = buildTranscoderMetrics({
      coordinate: job.parsed.coordinate,
      status,
      health: job.pipeline.health(),
      hlsViewers: options.origin.viewers(job.streamId),
      now: at,
    })
    return send(template, '31337 metrics')
  }

  function onPipelineEvent(job: Job, event: PipelineEvent): void {
    emit({ type: 'pipeline', jobId: job.request.id, event })
    if (job.revoked && (event.type === 'ended' || event.type === 'failed')) return // revocation said it all
    switch (event.type) {
      case 'live': {
        job.wasLive = true
        job.everLive = true
        // The real ladder is known now: its sizes follow the input's shape (4:3, portrait, …).
        const variants = ladderVariants(`${options.publicUrl()}/hls/${job.streamId}`, event.variants, job.pipeline.health()?.bitrateKbps ?? 0)
        const shape = (vs: HlsVariant[]): string => JSON.stringify(vs.map((v) => [v.name, v.width, v.height]))
        if (shape(variants) !== shape(job.resultVariants)) {
          job.resultVariants = variants
          void result(job)
        }
        void feedback(job.request, 'processing', event.resumed ? 'live again' : 'live', { live: true, ingestUrl: options.ingestUrl() }, job)
        if (!job.metricsTimer) {
          void sendMetrics(job, 'live')
          job.metricsTimer = setInterval(() => void sendMetrics(job, 'live'), metricsIntervalMs)
          job.metricsTimer.unref()
        }
        break
      }
      case 'reconnecting':
        void feedback(job.request, 'processing', `OBS disconnected: waiting ${Math.round(event.graceMs / 1000)} s for it to come back`, { live: false, ingestUrl: options.ingestUrl() }, job)
        break
      case 'restarted':
        log('warn', 'transcoder restarted', { request: job.request.id, stream: job.streamId, reason: event.reason })
        break
      case 'ended':
      case 'failed':
        end(job, event)
        break
    }
  }

  function end(job: Job, event: Extract<PipelineEvent, { type: 'ended' | 'failed' }>): void {
    // The stream is over: the key stops working; a new stream needs a new request.
    job.revoked = true
    clearTimeout(job.expiryTimer)
    options.registry.remove(job.request.id)
    if (jobs.get(job.coord) === job) jobs.delete(job.coord)
    byId.delete(job.request.id)
    finish(job)
    void markFinished(job)
    void track(
      (async () => {
        if (job.recordDir) await feedback(job.request, 'processing', 'the stream ended: preparing the recording', { live: false }, job)
        const recording = await keepRecording(job)
        if (recording) await result(job, recording.url)
        const extra: JobFeedbackExtra = { live: false, ...(recording ? { recording: recording.url } : {}) }
        if (event.type === 'ended') await feedback(job.request, 'success', 'the stream ended', extra, job)
        else await feedback(job.request, 'error', `ffmpeg died: ${event.reason}`, extra, job)
      })().catch((err: Error) => log('error', 'ending a job failed', { request: job.request.id, error: err.message })),
    )
  }

  async function handleDeletion(del: NostrEvent): Promise<void> {
    const genuine: boolean = verifyEvent(del, check)
    if (!genuine) return
    for (const id of getDeletionTargets(del).ids) {
      let by = deleted.get(id)
      if (!by) {
        if (deleted.size >= MAX_REMEMBERED) deleted.delete(deleted.keys().next().value as string)
        deleted.set(id, (by = new Set()))
      }
      by.add(del.pubkey)
      const job = byId.get(id)
      if (job && isDeletedBy(job.request, del)) void revoke(job, 'deleted')
    }
  }

  return {
    filters() {
      const since = nowSeconds() - 60
      const requests: Filter = options.policy.acceptUntargeted ? { kinds: [KIND_TRANSCODE_REQUEST] } : { kinds: [KIND_TRANSCODE_REQUEST], '#p': [options.pubkey] }
      return [requests, { kinds: [KIND_DELETION], since }]
    },
    async handleEvent(e) {
      if (closed || seen.has(e.id)) return
      remember(seen, e.id)
      try {
        if (e.kind === KIND_TRANSCODE_REQUEST) await handleRequest(e)
        else if (e.kind === KIND_DELETION) await handleDeletion(e)
      } catch (err) {
        log('error', 'handling an event failed', { id: e.id, kind: e.kind, error: (err as Error).message })
      }
    },
    onPublish(session) {
      const job = byId.get(session.jobId)
      if (!job || job.revoked) {
        log('warn', 'publish for a job that is gone: dropped', { session: session.id })
        return session.disconnect()
      }
      log('info', 'publish started', { request: job.request.id, stream: job.streamId, session: session.id })
      job.pipeline.attach(session)
    },
    onUnpublish(session) {
      const job = byId.get(session.jobId)
      log('info', 'publish ended', { session: session.id })
      job?.pipeline.detach()
    },
    isActive: (streamId) => [...jobs.values()].some((j) => j.streamId === streamId),
    recover: () =>
      track(
        recoverInterrupted({
          hlsRoot: options.hlsRoot,
          recordingsRoot: options.recordingsRoot ?? join(options.hlsRoot, '..', 'recording-parts'),
          interrupted: options.ledger?.interrupted ?? [],
          isActive: (streamId) => [...jobs.values()].some((j) => j.streamId === streamId),
          keep: async (dir, { request, streamId }) => (await storeRecording(dir, request, streamId))?.url,
          conclude: async ({ request, streamId }, { wasLive, recording }) => {
            const parsed = getTranscodeRequest(request)
            if (!parsed || !verifyEvent(request, check)) throw new Error('the request noted for this stream does not read or verify')
            // A second later than anything the stopped process may have published for it.
            const at = nowSeconds() + 1
            if (recording !== undefined) {
              const { masterUrl, variants } = plannedVariants(`${options.publicUrl()}/hls/${streamId}`, parsed.renditions)
              await send(buildTranscodeResult({ request, masterUrl, variants, ingestUrl: options.ingestUrl(), recording }, at), '6311 result (after a stop)')
            }
            const extra: JobFeedbackExtra = { live: false, ...(recording !== undefined ? { recording } : {}) }
            if (wasLive) await send(buildJobFeedback({ request, status: 'success', message: 'the stream ended: the transcoder stopped', extra }, at), '7000 success (after a stop)')
            else await send(buildJobFeedback({ request, status: 'error', message: 'the transcoder stopped before OBS connected: send a new request to stream', extra }, at), '7000 error (after a stop)')
            await markFinished({ streamId, request, parsed })
          },
          log,
        }),
      ),
    get activeJobs() {
      return jobs.size
    },
    async close() {
      closed = true
      await Promise.all([...jobs.values()].map((job) => revoke(job, 'shutdown')))
      // Last words of streams that ended just before (publishes, recordings being joined).
      while (pending.size > 0) await Promise.allSettled([...pending])
    },
  }
}
