import { join } from 'node:path'
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js'
import type { KeyRegistry } from '../ingest/auth.ts'
import type { Log, PublishSession } from '../ingest/types.ts'
import { formatCoordinate } from '../protocol/coordinate.ts'
import { getDeletionTargets, isDeletedBy } from '../protocol/deletion.ts'
import { isExpired } from '../protocol/expiration.ts'
import { JobError, buildJobFeedback, buildTranscodeResult, parseTranscodeRequest } from '../protocol/job.ts'
import type { JobFeedbackExtra, JobStatus, ParsedTranscodeRequest } from '../protocol/job.ts'
import { KIND_DELETION, KIND_TRANSCODE_REQUEST } from '../protocol/kinds.ts'
import type { EventTemplate, Filter, NostrEvent, SignatureCheck, Signer } from '../protocol/types.ts'
import { nobleSignatureCheck, verifyEvent } from '../protocol/verify.ts'
import { buildTranscoderMetrics, plannedVariants } from './announce.ts'
import type { Origin } from './origin.ts'
import { createPipeline } from './pipeline.ts'
import type { Pipeline, PipelineEvent, PipelineOptions } from './pipeline.ts'

/**
 * The job lifecycle: 5311 requests in (validated, policed), 6311 + 7000 out, one pipeline per
 * accepted job, its key hash in the registry ingest consults. A newer request for the same
 * coordinate replaces the older (its key stops working, its publisher is dropped); a NIP-09
 * deletion or the request's expiration revokes it. The worker only ever sees key hashes.
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

  async function send(template: EventTemplate, what: string): Promise<void> {
    try {
      await options.publish(await options.sign(template))
    } catch (err) {
      log('warn', `could not publish ${what}`, { kind: template.kind, error: (err as Error).message })
    }
  }

  const feedback = (request: NostrEvent, status: JobStatus, message: string, extra?: JobFeedbackExtra): Promise<void> =>
    send(buildJobFeedback({ request, status, message, extra }, nowSeconds()), `7000 ${status}`)

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
    const job: Job = {
      request: e,
      parsed,
      coord,
      streamId,
      revoked: false,
      wasLive: false,
      pipeline: createPipeline({
        ...options.pipeline,
        streamId,
        outputDir: join(options.hlsRoot, streamId),
        renditions: parsed.renditions,
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
    const { masterUrl, variants } = plannedVariants(`${options.publicUrl()}/hls/${streamId}`, parsed.renditions)
    // Result first: a client that sees "waiting for OBS" can already read the URLs.
    void send(buildTranscodeResult({ request: e, masterUrl, variants, ingestUrl }, nowSeconds()), '6311 result').then(() =>
      feedback(e, 'processing', 'waiting for OBS: point it at the ingest URL with your stream key', { live: false, ingestUrl }),
    )
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
    emit({ type: 'revoked', jobId: job.request.id, reason })
    // A replacement carries the same stream on: no "ended" for it.
    if (reason === 'replaced') job.wasLive = false
    return job.pipeline.stop().then(() => finish(job))
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
      case 'live':
        job.wasLive = true
        void feedback(job.request, 'processing', event.resumed ? 'live again' : 'live', { live: true, ingestUrl: options.ingestUrl() })
        if (!job.metricsTimer) {
          void sendMetrics(job, 'live')
          job.metricsTimer = setInterval(() => void sendMetrics(job, 'live'), metricsIntervalMs)
          job.metricsTimer.unref()
        }
        break
      case 'reconnecting':
        void feedback(job.request, 'processing', `OBS disconnected: waiting ${Math.round(event.graceMs / 1000)} s for it to come back`, { live: false, ingestUrl: options.ingestUrl() })
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
    if (event.type === 'ended') void feedback(job.request, 'success', 'the stream ended', { live: false })
    else void feedback(job.request, 'error', `ffmpeg died: ${event.reason}`, { live: false })
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
    get activeJobs() {
      return jobs.size
    },
    async close() {
      closed = true
      await Promise.all([...jobs.values()].map((job) => revoke(job, 'shutdown')))
    },
  }
}
