import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Relay } from 'nostr-tools/relay'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_CONFIG as INGEST_DEFAULTS } from '../../ingest/config.ts'
import { buildTranscodeRequest, generateStreamKey, getJobFeedback, getTranscodeResult, hashStreamKey } from '../../protocol/job.ts'
import type { Rendition } from '../../protocol/job.ts'
import { finalizeEvent, generateSecretKey, getPublicKey } from '../../protocol/keys.ts'
import { KIND_DELETION, KIND_HANDLER_INFO, KIND_JOB_FEEDBACK, KIND_SERVICE_METRICS, KIND_TRANSCODE_RESULT } from '../../protocol/kinds.ts'
import { getServiceMetrics } from '../../protocol/metrics.ts'
import type { NostrEvent } from '../../protocol/types.ts'
import { startTestRelay } from '../../relay/test-harness.ts'
import type { TestRelay } from '../../relay/test-harness.ts'
import { ffprobe } from '../media/ffprobe.ts'
import { captureConsole, captureLog } from '../media/log-capture.ts'
import { pushTestStream } from '../media/push.ts'
import { waitFor } from '../media/wait.ts'
import { DEFAULT_CONFIG } from '../../dvm/config.ts'
import { startDvm } from '../../dvm/main.ts'
import type { Dvm } from '../../dvm/main.ts'
import '../../dvm/relay-client.ts' // installs ws as nostr-tools' WebSocket
import type { WorkerEvent } from '../../dvm/worker.ts'

/**
 * The DVM with real parts: a relay on port 0, ingest on a free port, ffmpeg pushing like OBS at
 * 640x360 (cheap: the 360p rung is passed through), ffprobe on the output, nostr-tools as the
 * streamer's client. Every wait is on an event or a file, never a fixed sleep.
 */

const streamer = generateSecretKey()
const streamerPk = getPublicKey(streamer)
const stranger = generateSecretKey()

let relay: TestRelay
let dvm: Dvm
let client: Relay
let dir: string
const logs = captureLog()
const stdio = captureConsole()
/** Every HTTP response the tests saw (headers and body), for the key check. */
const responses: string[] = []
const published: NostrEvent[] = []
const workerEvents: WorkerEvent[] = []
const keys: string[] = []

function nextKey(): string {
  const key = generateStreamKey()
  keys.push(key)
  return key
}

function request(opts: { key: string; d: string; sk?: Uint8Array; coordPubkey?: string; renditions?: Rendition[] | 'audio'; expiresIn?: number; createdAt?: number }): NostrEvent {
  const sk = opts.sk ?? streamer
  const now = Math.floor(Date.now() / 1000)
  const template = buildTranscodeRequest(
    {
      coordinate: { kind: 30311, pubkey: opts.coordPubkey ?? getPublicKey(sk), identifier: opts.d },
      keyHash: hashStreamKey(opts.key),
      renditions: opts.renditions ?? ['360p'],
      record: false,
      dvm: dvm.pubkey,
      relays: [relay.url],
      expiration: now + (opts.expiresIn ?? 3600),
    },
    opts.createdAt ?? now,
  )
  return finalizeEvent(template, sk)
}

function waitPublished(what: string, pred: (e: NostrEvent) => boolean, timeoutMs = 20_000): Promise<NostrEvent> {
  return waitFor(what, () => published.find(pred), timeoutMs, 50)
}

function waitWorker(what: string, pred: (e: WorkerEvent) => boolean, timeoutMs = 20_000): Promise<WorkerEvent> {
  return waitFor(what, () => workerEvents.find(pred), timeoutMs, 50)
}

const feedbackFor = (id: string, status?: string, live?: boolean) => (e: NostrEvent) => {
  const f = getJobFeedback(e)
  return !!f && f.requestId === id && (status === undefined || f.status === status) && (live === undefined || f.live === live)
}
const resultFor = (id: string) => (e: NostrEvent) => getTranscodeResult(e)?.requestId === id

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url)
  const body = Buffer.from(await res.arrayBuffer())
  responses.push(JSON.stringify([...res.headers]), body.toString('latin1'))
  return { status: res.status, text: body.toString('utf8') }
}

async function hlsDirs(): Promise<string[]> {
  return readdir(join(dir, 'hls')).catch(() => [])
}

async function pushRefused(key: string): Promise<void> {
  const push = pushTestStream({ url: `${dvm.ingestUrl}/${key}`, width: 320, height: 180, fps: 15, seconds: 10 })
  const exit = await push.exited
  expect(exit.code).not.toBe(0)
}

beforeAll(async () => {
  relay = await startTestRelay()
  dir = await mkdtemp(join(tmpdir(), 'relaycast-dvm-'))
  dvm = await startDvm(
    { ...DEFAULT_CONFIG, relayUrl: relay.url, httpHost: '127.0.0.1', httpPort: 0, dataDir: dir, maxStreams: 10, maxRenditions: 3, graceMs: 1000, metricsIntervalMs: 1000 },
    { ...INGEST_DEFAULTS, host: '127.0.0.1', rtmpPort: 0, dataDir: dir, libraryLogLevel: 'info' },
    { log: logs.log, onEvent: (e) => workerEvents.push(e) },
  )
  client = await Relay.connect(relay.url)
  client.subscribe([{ authors: [dvm.pubkey] }], { onevent: (e) => void published.push(e as NostrEvent) })
}, 30_000)

afterAll(async () => {
  client?.close()
  await dvm?.close()
  await relay?.stop()
  stdio.restore()
  if (dir) await rm(dir, { recursive: true, force: true })
})

describe('dvm worker over a real relay and ingest', () => {
  it('announces itself with a 31990 for k=5311', async () => {
    const a = await waitPublished('31990', (e) => e.kind === KIND_HANDLER_INFO)
    expect(a.tags).toContainEqual(['k', '5311'])
    expect(a.tags).toContainEqual(['ingest', dvm.ingestUrl])
  })

  it('valid job → 6311 + 7000 waiting; push → live, HLS playable, 31337; replacement drops the old key; end → success', async () => {
    const key = nextKey()
    const req = request({ key, d: 'show-1' })
    await client.publish(req)
    const result = getTranscodeResult(await waitPublished('6311', resultFor(req.id)))!
    expect(result.masterUrl).toMatch(new RegExp(`^${dvm.publicUrl}/hls/[0-9a-f]{24}/master\\.m3u8$`))
    expect(result.ingestUrl).toBe(dvm.ingestUrl)
    expect(result.variants.map((v) => v.name)).toEqual(['360p'])
    const waiting = getJobFeedback(await waitPublished('7000 waiting', feedbackFor(req.id, 'processing', false)))!
    expect(waiting.ingestUrl).toBe(dvm.ingestUrl)
    expect(waiting.message).toMatch(/waiting for OBS/)

    const abort = new AbortController()
    const push = pushTestStream({ url: `${dvm.ingestUrl}/${key}`, width: 640, height: 360, fps: 30, signal: abort.signal })
    try {
      await waitPublished('7000 live', feedbackFor(req.id, 'processing', true), 40_000)
      const master = await get(result.masterUrl)
      expect(master.status).toBe(200)
      expect(master.text).toContain('#EXTM3U')
      const variant = await get(result.variants[0].url)
      expect(variant.text).toContain('#EXTINF')
      const segment = variant.text.split('\n').find((l) => l.endsWith('.ts'))!
      expect((await get(new URL(segment, result.variants[0].url).href)).status).toBe(200)
      const streams = await ffprobe(result.variants[0].url)
      expect(streams.find((s) => s.codec_type === 'video')).toMatchObject({ width: 640, height: 360 })
      expect(streams.some((s) => s.codec_type === 'audio')).toBe(true)
      const metrics = await waitPublished('31337 live', (e) => e.kind === KIND_SERVICE_METRICS && getServiceMetrics(e)?.status === 'live', 20_000)
      const m = getServiceMetrics(metrics)!
      expect(m.service).toBe('transcoder')
      expect(m.coordinate.identifier).toBe('show-1')
      if (m.service === 'transcoder') expect(m.figures.height).toBe(360)

      // Key rotation: a newer request for the same stream; the old publisher is dropped.
      const key2 = nextKey()
      const req2 = request({ key: key2, d: 'show-1', createdAt: req.created_at + 1 })
      await client.publish(req2)
      await waitWorker('replaced', (e) => e.type === 'revoked' && e.jobId === req.id && e.reason === 'replaced')
      const dropped = await push.exited
      expect(dropped.code).not.toBe(0)
      await waitPublished('7000 waiting for the new job', feedbackFor(req2.id, 'processing', false))
      await pushRefused(key)

      // The new key streams; when it stops, the job ends cleanly.
      const abort2 = new AbortController()
      const push2 = pushTestStream({ url: `${dvm.ingestUrl}/${key2}`, width: 640, height: 360, fps: 30, signal: abort2.signal })
      await waitPublished('7000 live (new key)', feedbackFor(req2.id, 'processing', true), 40_000)
      abort2.abort()
      await push2.exited
      await waitPublished('7000 success', feedbackFor(req2.id, 'success'), 30_000)
      // The replaced job said no "ended" (the stream went on); the finished one did, and the
      // relay kept it as the latest for the stream.
      const ended = (e: NostrEvent): boolean => e.kind === KIND_SERVICE_METRICS && getServiceMetrics(e)?.status === 'ended'
      await waitPublished('31337 ended', ended, 10_000)
      expect(published.filter(ended)).toHaveLength(1)
      const stored = await new Promise<NostrEvent[]>((resolve) => {
        const got: NostrEvent[] = []
        const sub = client.subscribe([{ kinds: [KIND_SERVICE_METRICS], authors: [dvm.pubkey] }], {
          onevent: (e) => void got.push(e as NostrEvent),
          oneose: () => (sub.close(), resolve(got)),
        })
      })
      expect(stored.map((e) => getServiceMetrics(e)?.status)).toEqual(['ended'])
    } finally {
      abort.abort()
      await push.exited
    }
  }, 180_000)

  it('a wrong key is refused and no HLS appears', async () => {
    const req = request({ key: nextKey(), d: 'show-wrong' })
    await client.publish(req)
    const accepted = (await waitWorker('accepted', (e) => e.type === 'accepted' && e.jobId === req.id)) as Extract<WorkerEvent, { type: 'accepted' }>
    await pushRefused(nextKey())
    expect(await hlsDirs()).not.toContain(accepted.streamId)
  }, 60_000)

  it('a job revoked by a NIP-09 deletion stops admitting its key', async () => {
    const key = nextKey()
    const req = request({ key, d: 'show-deleted' })
    await client.publish(req)
    const accepted = (await waitWorker('accepted', (e) => e.type === 'accepted' && e.jobId === req.id)) as Extract<WorkerEvent, { type: 'accepted' }>
    await client.publish(finalizeEvent({ kind: KIND_DELETION, created_at: Math.floor(Date.now() / 1000), tags: [['e', req.id], ['k', '5311']], content: '' }, streamer))
    await waitWorker('deleted', (e) => e.type === 'revoked' && e.jobId === req.id && e.reason === 'deleted')
    await pushRefused(key)
    expect(await hlsDirs()).not.toContain(accepted.streamId)
  }, 60_000)

  it('a request is revoked at its expiration; an already expired one gets no answer', async () => {
    const key = nextKey()
    const req = request({ key, d: 'show-expiring', expiresIn: 2 })
    await client.publish(req)
    const accepted = (await waitWorker('accepted', (e) => e.type === 'accepted' && e.jobId === req.id)) as Extract<WorkerEvent, { type: 'accepted' }>
    await waitWorker('expired', (e) => e.type === 'revoked' && e.jobId === req.id && e.reason === 'expired', 10_000)
    await pushRefused(key)
    expect(await hlsDirs()).not.toContain(accepted.streamId)

    // Relays drop expired events, so hand it to the worker as a relay that keeps them would.
    const staleKey = nextKey()
    const stale = request({ key: staleKey, d: 'show-expired', expiresIn: -10, createdAt: Math.floor(Date.now() / 1000) - 20 })
    const dirsBefore = await hlsDirs()
    await dvm.worker.handleEvent(stale)
    expect(workerEvents).toContainEqual({ type: 'ignored', jobId: stale.id, reason: 'expired' })
    await pushRefused(staleKey)
    expect(await hlsDirs()).toEqual(dirsBefore)
    const after = request({ key: nextKey(), d: 'show-after-expired' })
    await client.publish(after)
    await waitPublished('7000 for the later job', feedbackFor(after.id, 'processing'))
    expect(published.some((e) => e.tags.some((t) => t[0] === 'e' && t[1] === stale.id))).toBe(false)
  }, 60_000)

  it('a job for someone else\'s stream, or over the limits, gets a 7000 error with a plain reason', async () => {
    const forgedKey = nextKey()
    const forged = request({ key: forgedKey, d: 'show-1', sk: stranger, coordPubkey: streamerPk })
    const dirsBefore = await hlsDirs()
    await client.publish(forged)
    const error = getJobFeedback(await waitPublished('7000 error', feedbackFor(forged.id, 'error')))!
    expect(error.message).toMatch(/another pubkey/)
    expect(published.some((e) => e.kind === KIND_TRANSCODE_RESULT && resultFor(forged.id)(e))).toBe(false)
    // Its key opens nothing: the publish is refused and no HLS appears.
    await pushRefused(forgedKey)
    expect(await hlsDirs()).toEqual(dirsBefore)

    const greedy = request({ key: nextKey(), d: 'show-greedy', renditions: ['720p', '480p', '360p', '240p'] })
    await client.publish(greedy)
    const refused = getJobFeedback(await waitPublished('7000 error (limits)', feedbackFor(greedy.id, 'error')))!
    expect(refused.message).toMatch(/at most 3 renditions/)
  }, 30_000)

  it('no stream key appears in any event the DVM published, log line, console output or HTTP response', () => {
    expect(keys.length).toBeGreaterThan(5)
    expect(published.filter((e) => e.kind === KIND_JOB_FEEDBACK).length).toBeGreaterThan(5)
    const events = JSON.stringify(published)
    const lines = logs.text()
    expect(lines.length).toBeGreaterThan(0)
    expect(responses.length).toBeGreaterThanOrEqual(6)
    for (const key of keys) {
      expect(events).not.toContain(key)
      expect(lines).not.toContain(key)
      expect(stdio.text()).not.toContain(key)
      for (const r of responses) expect(r).not.toContain(key)
    }
  })
})
