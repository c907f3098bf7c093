import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createOrigin, listenOrigin } from '../../dvm/origin.ts'
import type { Origin, OriginServer } from '../../dvm/origin.ts'
import { createPipeline } from '../../dvm/pipeline.ts'
import type { Pipeline, PipelineEvent, PipelineOptions } from '../../dvm/pipeline.ts'
import { createKeyRegistry } from '../../ingest/auth.ts'
import type { KeyRegistry } from '../../ingest/auth.ts'
import { DEFAULT_CONFIG } from '../../ingest/config.ts'
import { createIngest } from '../../ingest/server.ts'
import type { Ingest, Log, PublishSession } from '../../ingest/types.ts'
import { hashStreamKey } from '../../protocol/job.ts'

/**
 * The media half of the DVM wired the way the job worker will wire it: key registry → ingest →
 * one pipeline per job → HLS directory → origin. For tests and benchmarks.
 */

export type JobEvent = PipelineEvent & { jobId: string; at: number }

export interface MediaHarness {
  dir: string
  hlsRoot: string
  ingest: Ingest
  registry: KeyRegistry
  origin: Origin
  http: OriginServer
  events: JobEvent[]
  /** Publishes that started (for timing). */
  publishes: Array<{ jobId: string; at: number; session: PublishSession }>
  rtmpUrl(key: string): string
  hlsUrl(streamId: string, file?: string): string
  addJob(jobId: string, key: string, options: Partial<PipelineOptions> & Pick<PipelineOptions, 'renditions'>): Pipeline
  /** Resolves on the first event (past or future) of the job matching `type` and `accept`. */
  waitEvent<T extends JobEvent['type']>(jobId: string, type: T, accept?: (e: Extract<JobEvent, { type: T }>) => boolean, timeoutMs?: number): Promise<Extract<JobEvent, { type: T }>>
  close(): Promise<void>
}

export async function startMediaHarness(options: { log?: Log; graceMs?: number } = {}): Promise<MediaHarness> {
  const log = options.log ?? (() => {})
  const dir = await mkdtemp(join(tmpdir(), 'relaycast-media-'))
  const hlsRoot = join(dir, 'hls')
  const registry = createKeyRegistry()
  const pipelines = new Map<string, Pipeline>()
  const events: JobEvent[] = []
  const waiters = new Set<(e: JobEvent) => void>()
  const publishes: MediaHarness['publishes'] = []

  const ingest = await createIngest(
    { ...DEFAULT_CONFIG, host: '127.0.0.1', rtmpPort: 0, dataDir: dir, libraryLogLevel: 'info' },
    {
      authorize: registry.authorize,
      release: registry.release,
      onPublish: (s) => {
        publishes.push({ jobId: s.jobId, at: Date.now(), session: s })
        pipelines.get(s.jobId)?.attach(s)
      },
      onUnpublish: (s) => pipelines.get(s.jobId)?.detach(),
    },
    { log },
  )
  const origin = createOrigin({ root: hlsRoot, log })
  const http = await listenOrigin(origin, 0)

  const harness: MediaHarness = {
    dir,
    hlsRoot,
    ingest,
    registry,
    origin,
    http,
    events,
    publishes,
    rtmpUrl: (key) => `rtmp://127.0.0.1:${ingest.port}/live/${key}`,
    hlsUrl: (streamId, file = 'master.m3u8') => `http://127.0.0.1:${http.port}/hls/${streamId}/${file}`,
    addJob(jobId, key, opts) {
      registry.put({ jobId, keyHash: hashStreamKey(key) })
      const streamId = opts.streamId ?? `stream-${jobId}`
      const pipeline = createPipeline({
        graceMs: options.graceMs,
        log,
        ...opts,
        streamId,
        outputDir: join(hlsRoot, streamId),
        onEvent: (e) => {
          const event = { ...e, jobId, at: Date.now() } as JobEvent
          events.push(event)
          for (const w of [...waiters]) w(event)
          opts.onEvent?.(e)
        },
      })
      pipelines.set(jobId, pipeline)
      return pipeline
    },
    waitEvent(jobId, type, accept = () => true, timeoutMs = 30_000) {
      type E = Extract<JobEvent, { type: typeof type }>
      const match = (e: JobEvent): e is E => e.jobId === jobId && e.type === type && accept(e as E)
      const past = events.find(match)
      if (past) return Promise.resolve(past)
      return new Promise<E>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(w)
          reject(new Error(`no ${type} event for ${jobId} within ${timeoutMs} ms; saw ${events.filter((e) => e.jobId === jobId).map((e) => e.type).join(', ') || 'nothing'}`))
        }, timeoutMs)
        const w = (e: JobEvent): void => {
          if (!match(e)) return
          clearTimeout(timer)
          waiters.delete(w)
          resolve(e)
        }
        waiters.add(w)
      })
    },
    async close() {
      await Promise.all([...pipelines.values()].map((p) => p.stop()))
      await ingest.close()
      await http.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
  return harness
}
