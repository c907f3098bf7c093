import { mkdir, readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { validateEventShape } from '../protocol/event.ts'
import { KIND_TRANSCODE_REQUEST } from '../protocol/kinds.ts'
import type { NostrEvent } from '../protocol/types.ts'
import { STREAM_ID } from './origin.ts'
import { writeFileAtomic } from './playlist.ts'

/**
 * What the DVM must remember across restarts, on disk under `<data>/jobs/`:
 * - the jobs running now (`active/<stream id>.json`, the request: a public signed event), so the
 *   next start knows which streams a stop interrupted (recovery.ts);
 * - the requests that are over (`finished.json`, id → expiration), so the relay sending them
 *   again after a restart does not start them again: over is over, a new stream needs a new
 *   request. Entries leave once their request has expired (it is void anyway).
 */

export interface InterruptedJob {
  streamId: string
  request: NostrEvent
}

export interface JobLedger {
  /** Over: finished, or interrupted by the previous process's stop. */
  isFinished(requestId: string): boolean
  /** A job was accepted for this stream. */
  start(streamId: string, request: NostrEvent): Promise<void>
  /** The job is over (ended, failed, revoked, or recovered after a stop). */
  finish(streamId: string, request: Pick<NostrEvent, 'id'>, expiration: number): Promise<void>
  /** Jobs that were running when the previous process stopped without closing. */
  readonly interrupted: readonly InterruptedJob[]
}

export async function openJobLedger(dir: string, nowSeconds: () => number = () => Math.floor(Date.now() / 1000)): Promise<JobLedger> {
  const activeDir = join(dir, 'active')
  const finishedPath = join(dir, 'finished.json')
  await mkdir(activeDir, { recursive: true })
  const finished = new Map<string, number>()
  try {
    const data = JSON.parse(await readFile(finishedPath, 'utf8')) as Record<string, unknown>
    for (const [id, exp] of Object.entries(data)) if (/^[0-9a-f]{64}$/.test(id) && typeof exp === 'number' && exp > nowSeconds()) finished.set(id, exp)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && !(err instanceof SyntaxError)) throw err
  }
  const interrupted: InterruptedJob[] = []
  for (const name of await readdir(activeDir)) {
    const streamId = name.replace(/\.json$/, '')
    if (!name.endsWith('.json') || !STREAM_ID.test(streamId)) continue
    const request = await readRequest(join(activeDir, name))
    if (request) interrupted.push({ streamId, request })
    else await rm(join(activeDir, name), { force: true }) // torn: nothing to act on
  }

  // Writes one after another: the last one always holds everything.
  let writing: Promise<void> = Promise.resolve()
  const saveFinished = (): Promise<void> => {
    const now = nowSeconds()
    for (const [id, exp] of finished) if (exp <= now) finished.delete(id)
    const text = JSON.stringify(Object.fromEntries(finished))
    return (writing = writing.then(() => writeFileAtomic(finishedPath, text)))
  }

  return {
    // An interrupted job is over too, before recovery has even concluded it.
    isFinished: (id) => finished.has(id) || interrupted.some((j) => j.request.id === id),
    start: (streamId, request) => writeFileAtomic(join(activeDir, `${streamId}.json`), JSON.stringify(request)),
    async finish(streamId, request, expiration) {
      finished.set(request.id, expiration)
      await saveFinished()
      await rm(join(activeDir, `${streamId}.json`), { force: true })
    },
    interrupted,
  }
}

async function readRequest(path: string): Promise<NostrEvent | undefined> {
  try {
    const event = JSON.parse(await readFile(path, 'utf8')) as NostrEvent
    return validateEventShape(event) === undefined && event.kind === KIND_TRANSCODE_REQUEST ? event : undefined
  } catch {
    return undefined
  }
}
