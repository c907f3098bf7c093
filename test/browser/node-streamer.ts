import { encodeNaddr, formatCoordinate } from '../../protocol/coordinate.ts'
import type { Coordinate } from '../../protocol/coordinate.ts'
import { buildTranscodeRequest, generateStreamKey, getJobFeedback, getTranscodeResult, hashStreamKey } from '../../protocol/job.ts'
import type { Rendition } from '../../protocol/job.ts'
import { finalizeEvent, generateSecretKey, getPublicKey } from '../../protocol/keys.ts'
import { KIND_JOB_FEEDBACK, KIND_TRANSCODE_RESULT } from '../../protocol/kinds.ts'
import { buildLiveEvent } from '../../protocol/nip53.ts'
import type { LiveEventInput } from '../../protocol/nip53.ts'
import { waitFor } from '../media/wait.ts'
import { startObs } from './obs.ts'
import type { Obs } from './obs.ts'
import { waitForEvent } from './relay-wait.ts'
import type { System } from './system.ts'

/**
 * A live stream set up from Node, the way the go-live page does it (30311 planned, 5311 job with
 * a key hash, OBS push, 30311 live with the DVM's master URL): the viewer tests' fallback when the
 * browser go-live flow is broken, and the client bench's stream.
 */

export interface NodeStream {
  title: string
  coordinate: Coordinate
  naddr: string
  masterUrl: string
  sk: Uint8Array
  obs: Obs
  stop(): Promise<void>
}

export async function startNodeStream(system: System, options: { title?: string; renditions?: Rendition[]; timeoutMs?: number; clip?: string } = {}): Promise<NodeStream> {
  const timeoutMs = options.timeoutMs ?? 60_000
  const sk = generateSecretKey()
  const pubkey = getPublicKey(sk)
  const identifier = `node-${Date.now().toString(36)}`
  const coordinate: Coordinate = { kind: 30311, pubkey, identifier }
  const title = options.title ?? `Node test stream ${identifier}`
  const relays = [system.relayUrl]
  const base: LiveEventInput = { identifier, title, summary: 'made by the browser tests', category: 'testing', tags: ['relaycast'], status: 'planned', hosts: [{ pubkey, role: 'Host' }], relays }
  await system.watcher.publish(finalizeEvent(buildLiveEvent(base), sk))

  const key = generateStreamKey()
  const request = finalizeEvent(
    buildTranscodeRequest({
      coordinate,
      keyHash: hashStreamKey(key),
      renditions: options.renditions ?? ['720p', '360p'],
      record: false,
      dvm: system.dvm.pubkey,
      relays,
      expiration: Math.floor(Date.now() / 1000) + 3600,
    }),
    sk,
  )
  await system.watcher.publish(request)
  const resultEvent = await waitForEvent(system.watcher, '6311 result', [{ kinds: [KIND_TRANSCODE_RESULT], authors: [system.dvm.pubkey], '#e': [request.id] }], (e) => getTranscodeResult(e)?.requestId === request.id, timeoutMs)
  const result = getTranscodeResult(resultEvent)!

  const obs = startObs(result.ingestUrl, key, { clip: options.clip })
  try {
    await waitForEvent(system.watcher, '7000 live', [{ kinds: [KIND_JOB_FEEDBACK], authors: [system.dvm.pubkey], '#e': [request.id] }], (e) => getJobFeedback(e)?.live === true, timeoutMs)
    const now = Math.floor(Date.now() / 1000)
    await system.watcher.publish(finalizeEvent(buildLiveEvent({ ...base, status: 'live', streaming: result.masterUrl, starts: now, currentParticipants: 0 }), sk))
    // hls.js wants a few segments listed before it starts a live stream.
    await waitForSegments(result.masterUrl, 3, timeoutMs)
  } catch (err) {
    await obs.stop()
    throw err
  }
  return {
    title,
    coordinate,
    naddr: encodeNaddr(coordinate, relays),
    masterUrl: result.masterUrl,
    sk,
    obs,
    async stop() {
      await obs.stop()
      const ended = buildLiveEvent({ ...base, status: 'ended', ends: Math.floor(Date.now() / 1000) })
      await system.watcher.publish(finalizeEvent(ended, sk)).catch((err: Error) => console.error(`could not end ${formatCoordinate(coordinate)}: ${err.message}`))
    },
  }
}

/** Resolves once the first variant playlist behind `masterUrl` lists at least `n` segments. */
export async function waitForSegments(masterUrl: string, n: number, timeoutMs = 30_000): Promise<number> {
  return waitFor(
    `${n} segments in ${masterUrl}`,
    async () => {
      const master = await fetch(masterUrl).then((r) => (r.ok ? r.text() : ''), () => '')
      const variant = master.split('\n').find((l) => l.trim() !== '' && !l.startsWith('#'))
      if (!variant) return undefined
      const text = await fetch(new URL(variant.trim(), masterUrl)).then((r) => (r.ok ? r.text() : ''), () => '')
      const count = text.split('\n').filter((l) => l.startsWith('#EXTINF')).length
      return count >= n ? count : undefined
    },
    timeoutMs,
    250,
  )
}
