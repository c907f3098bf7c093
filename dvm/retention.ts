import { readdir, readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Log } from '../ingest/types.ts'
import { STREAM_ID } from './origin.ts'
import { hasEndList } from './playlist.ts'

/**
 * Removes the HLS files of streams that are over: every variant playlist carries ENDLIST (or
 * there is none) and nothing in the directory changed for `retentionMs`. A stream the DVM still
 * runs is never touched, whatever its files say. The DVM calls this now and then.
 */

export interface SweepOptions {
  /** The directory holding one directory per stream (the origin's root). */
  root: string
  retentionMs: number
  /** Streams with a pipeline that is not over yet. */
  isActive?: (streamId: string) => boolean
  now?: () => number
  log?: Log
}

export async function sweepEndedStreams(options: SweepOptions): Promise<string[]> {
  const now = options.now ?? Date.now
  const log: Log = options.log ?? (() => {})
  const removed: string[] = []
  const entries = await readdir(options.root, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return []
    throw err
  })
  for (const entry of entries) {
    const streamId = entry.name
    if (!entry.isDirectory() || !STREAM_ID.test(streamId) || options.isActive?.(streamId)) continue
    const dir = join(options.root, streamId)
    try {
      const names = await readdir(dir)
      let newest = (await stat(dir)).mtimeMs
      let ended = true
      for (const name of names) {
        const info = await stat(join(dir, name))
        newest = Math.max(newest, info.mtimeMs)
        if (name.endsWith('.m3u8') && name !== 'master.m3u8' && !hasEndList(await readFile(join(dir, name), 'utf8'))) ended = false
      }
      if (!ended || now() - newest < options.retentionMs) continue
      await rm(dir, { recursive: true, force: true })
      removed.push(streamId)
      log('info', 'removed an ended stream', { stream: streamId })
    } catch (err) {
      log('warn', 'could not sweep a stream', { stream: streamId, error: (err as Error).message })
    }
  }
  return removed
}
