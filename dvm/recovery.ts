import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Log } from '../ingest/types.ts'
import type { InterruptedJob } from './job-ledger.ts'
import { STREAM_ID } from './origin.ts'
import { countSegments, endPlaylists } from './playlist.ts'

/**
 * What a DVM that stopped without closing (crash, power cut, kill -9) left behind, put right at
 * the next start: the playlists of streams no job runs get their ENDLIST (players stop waiting,
 * retention can remove them); each job the stop interrupted (job-ledger.ts) has its recording
 * parts joined and stored, and its author is told it ended (6311 with `recording`, 7000).
 */

export interface RecoveryOptions {
  hlsRoot: string
  recordingsRoot: string
  interrupted: readonly InterruptedJob[]
  /** Streams a job runs now: left alone. */
  isActive(streamId: string): boolean
  /** Joins and stores the parts in `dir`; the recording's URL, or undefined when nothing was recorded. */
  keep(dir: string, job: InterruptedJob): Promise<string | undefined>
  /** Tells the job's author that it ended (and where the recording is), and marks it finished. */
  conclude(job: InterruptedJob, outcome: { wasLive: boolean; recording?: string }): Promise<void>
  log?: Log
}

export interface RecoveryReport {
  endedStreams: string[]
  concluded: Array<{ streamId: string; requestId: string; recording?: string }>
}

export async function recoverInterrupted(options: RecoveryOptions): Promise<RecoveryReport> {
  const log: Log = options.log ?? (() => {})
  const report: RecoveryReport = { endedStreams: [], concluded: [] }
  for (const streamId of await streamDirs(options.hlsRoot)) {
    if (options.isActive(streamId)) continue
    const dir = join(options.hlsRoot, streamId)
    if ((await endPlaylists(dir, await variantNames(dir))).length > 0) report.endedStreams.push(streamId)
  }
  if (report.endedStreams.length > 0) log('warn', 'ended the playlists of streams a stop interrupted', { streams: report.endedStreams.join(',') })

  for (const job of options.interrupted) {
    try {
      const parts = join(options.recordingsRoot, job.streamId)
      const recording = (await isDirectory(parts)) ? await options.keep(parts, job) : undefined
      const wasLive = await hasMedia(join(options.hlsRoot, job.streamId))
      await options.conclude(job, { wasLive, ...(recording !== undefined ? { recording } : {}) })
      report.concluded.push({ streamId: job.streamId, requestId: job.request.id, ...(recording !== undefined ? { recording } : {}) })
      log('warn', 'concluded a job a stop interrupted', { request: job.request.id, stream: job.streamId, wasLive, recording })
    } catch (err) {
      log('error', 'could not conclude an interrupted job', { request: job.request.id, stream: job.streamId, error: (err as Error).message })
    }
  }
  return report
}

async function streamDirs(root: string): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true }).catch(() => [])
  return entries.filter((e) => e.isDirectory() && STREAM_ID.test(e.name)).map((e) => e.name)
}

async function variantNames(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[])
  return names.filter((n) => n.endsWith('.m3u8') && n !== 'master.m3u8').map((n) => n.slice(0, -'.m3u8'.length))
}

const isDirectory = (path: string): Promise<boolean> => stat(path).then((s) => s.isDirectory(), () => false)

/** Some variant playlist lists a segment: the stream was live at some point. */
async function hasMedia(dir: string): Promise<boolean> {
  for (const name of await variantNames(dir)) {
    const text = await readFile(join(dir, `${name}.m3u8`), 'utf8').catch(() => '')
    if (countSegments(text) > 0) return true
  }
  return false
}
