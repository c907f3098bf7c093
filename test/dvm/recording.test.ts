import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Relay } from 'nostr-tools/relay'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_CONFIG as INGEST_DEFAULTS } from '../../ingest/config.ts'
import { buildTranscodeRequest, generateStreamKey, getJobFeedback, getLatestTranscodeResult, getTranscodeResult, hashStreamKey } from '../../protocol/job.ts'
import type { Rendition, TranscodeResult } from '../../protocol/job.ts'
import { finalizeEvent, generateSecretKey, getPublicKey } from '../../protocol/keys.ts'
import { KIND_JOB_FEEDBACK, KIND_LIVE_EVENT, KIND_TRANSCODE_RESULT } from '../../protocol/kinds.ts'
import type { NostrEvent } from '../../protocol/types.ts'
import { startTestRelay } from '../../relay/test-harness.ts'
import type { TestRelay } from '../../relay/test-harness.ts'
import { DEFAULT_CONFIG } from '../../dvm/config.ts'
import { startDvm } from '../../dvm/main.ts'
import type { Dvm } from '../../dvm/main.ts'
import '../../dvm/relay-client.ts' // installs ws as nostr-tools' WebSocket
import type { WorkerEvent } from '../../dvm/worker.ts'
import { recordingOutputArgs } from '../../dvm/hls-args.ts'
import { hasEndList } from '../../dvm/playlist.ts'
import { ffprobe } from '../media/ffprobe.ts'
import { captureConsole, captureLog } from '../media/log-capture.ts'
import { ensureTestClip, pushTestStream } from '../media/push.ts'
import type { Push } from '../media/push.ts'
import { waitFor } from '../media/wait.ts'

/**
 * The DVM with real parts, for what a job asks beyond HLS: a recording kept across a reconnect
 * and offered on the embedded Blossom server, variant sizes that follow the input's shape, and a
 * clean shutdown. Pushes loop small pre-encoded clips (-c copy) and the top rung is passed
 * through, so the two cores stay free.
 */

const streamer = generateSecretKey()
const streamerPk = getPublicKey(streamer)
const GRACE_MS = 6_000

let relay: TestRelay
let dvm: Dvm
let client: Relay
let dir: string
const logs = captureLog()
const stdio = captureConsole()
const published: NostrEvent[] = []
const workerEvents: WorkerEvent[] = []
const keys: string[] = []
/** Every HTTP response the tests saw (headers and body), for the key check. */
const responses: string[] = []

function request(opts: { key: string; d: string; renditions?: Rendition[]; record?: boolean }): NostrEvent {
  const now = Math.floor(Date.now() / 1000)
  return finalizeEvent(
    buildTranscodeRequest(
      {
        coordinate: { kind: KIND_LIVE_EVENT, pubkey: streamerPk, identifier: opts.d },
        keyHash: hashStreamKey(opts.key),
        renditions: opts.renditions ?? ['360p'],
        record: opts.record ?? false,
        dvm: dvm.pubkey,
        relays: [relay.url],
        expiration: now + 3600,
      },
      now,
    ),
    streamer,
  )
}
function newKey(): string {
  const key = generateStreamKey()
  keys.push(key)
  return key
}

const waitPublished = (what: string, pred: (e: NostrEvent) => boolean, timeoutMs = 30_000): Promise<NostrEvent> => waitFor(what, () => published.find(pred), timeoutMs, 50)
const feedbackFor = (id: string, pred: (f: NonNullable<ReturnType<typeof getJobFeedback>>) => boolean) => (e: NostrEvent) => {
  const f = getJobFeedback(e)
  return !!f && f.requestId === id && pred(f)
}
const latestResult = (id: string): TranscodeResult | undefined => getLatestTranscodeResult(published, id, dvm.pubkey)

async function get(url: string, init?: RequestInit): Promise<{ res: Response; body: Buffer }> {
  const res = await fetch(url, init)
  const body = Buffer.from(await res.arrayBuffer())
  responses.push(JSON.stringify([...res.headers]), body.toString('latin1'))
  return { res, body }
}

async function submit(opts: Parameters<typeof request>[0]): Promise<NostrEvent> {
  const req = request(opts)
  await client.publish(req)
  await waitPublished('7000 waiting for OBS', feedbackFor(req.id, (f) => f.status === 'processing' && f.live === false))
  return req
}

/** The ffmpeg children of this process working under the DVM's data directory. */
function dvmChildren(): number[] {
  const pids: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== process.pid) continue
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(dir)) pids.push(Number(name))
    } catch {
      continue // ended while we looked
    }
  }
  return pids
}

const run = promisify(execFile)
async function duration(path: string): Promise<number> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', path])
  return Number(stdout.trim())
}

beforeAll(async () => {
  relay = await startTestRelay()
  dir = await mkdtemp(join(tmpdir(), 'relaycast-dvm-rec-'))
  dvm = await startDvm(
    { ...DEFAULT_CONFIG, relayUrl: relay.url, httpHost: '127.0.0.1', httpPort: 0, dataDir: dir, maxStreams: 10, graceMs: GRACE_MS, metricsIntervalMs: 2000, preset: 'ultrafast' },
    { ...INGEST_DEFAULTS, host: '127.0.0.1', rtmpPort: 0, dataDir: dir, libraryLogLevel: 'info' },
    { log: logs.log, onEvent: (e) => workerEvents.push(e) },
  )
  client = await Relay.connect(relay.url)
  client.subscribe([{ authors: [dvm.pubkey] }], { onevent: (e) => void published.push(e as NostrEvent) })
}, 60_000)

afterAll(async () => {
  client?.close()
  await dvm?.close()
  await relay?.stop()
  stdio.restore()
  if (dir) await rm(dir, { recursive: true, force: true })
})

describe('dvm recordings, variant sizes and shutdown', () => {
  it('records across a reconnect within the grace period (same playlist URL, a discontinuity) and offers the recording as a Blossom blob', async () => {
    const clip = await ensureTestClip({ width: 640, height: 360, fps: 30, keyframeSeconds: 1 })
    const key = newKey()
    const req = await submit({ key, d: 'rec-show', record: true })
    const first = getTranscodeResult(published.find((e) => e.kind === KIND_TRANSCODE_RESULT && getTranscodeResult(e)?.requestId === req.id)!)!
    const variantUrl = first.variants[0].url
    const segments = async () => ((await get(variantUrl)).body.toString().match(/^#EXTINF:/gm) ?? []).length

    const one = new AbortController()
    const push1 = pushTestStream({ url: `${dvm.ingestUrl}/${key}`, clip, signal: one.signal })
    await waitPublished('7000 live', feedbackFor(req.id, (f) => f.live === true))
    await waitFor('3 segments before the drop', async () => (await segments()) >= 3, 30_000)
    one.abort()
    await push1.exited
    await waitPublished('7000 reconnecting', feedbackFor(req.id, (f) => /OBS disconnected/.test(f.message)))

    const two = new AbortController()
    const push2 = pushTestStream({ url: `${dvm.ingestUrl}/${key}`, clip, signal: two.signal })
    await waitPublished('7000 live again', feedbackFor(req.id, (f) => f.live === true && f.message === 'live again'), 40_000)
    const resumed = (await get(variantUrl)).body.toString()
    expect(resumed).toContain('#EXT-X-DISCONTINUITY')
    await waitFor('3 more segments', async () => (await segments()) >= 6, 30_000)
    // Same stream, same URLs: every 6311 so far names the same master playlist.
    expect(latestResult(req.id)?.masterUrl).toBe(first.masterUrl)
    two.abort()
    await push2.exited

    const success = getJobFeedback(await waitPublished('7000 success', feedbackFor(req.id, (f) => f.status === 'success'), GRACE_MS + 60_000))!
    expect(success.recording).toMatch(new RegExp(`^${dvm.publicUrl}/[0-9a-f]{64}\\.mp4$`))
    expect(published.some(feedbackFor(req.id, (f) => f.status === 'processing' && /preparing the recording/.test(f.message)))).toBe(true)
    const final = latestResult(req.id)!
    expect(final.recording).toBe(success.recording)
    expect(final.masterUrl).toBe(first.masterUrl)
    const rec = workerEvents.find((e): e is Extract<WorkerEvent, { type: 'recording' }> => e.type === 'recording' && e.jobId === req.id)!
    expect(rec.parts).toBe(2)

    // BUD-01: the bytes hash to the name; ffprobe reads the whole recording (both parts).
    const sha = /([0-9a-f]{64})\.mp4$/.exec(success.recording!)![1]
    const { res, body } = await get(success.recording!)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('video/mp4')
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    expect(createHash('sha256').update(body).digest('hex')).toBe(sha)
    const seconds = await duration(success.recording!)
    expect(seconds).toBeGreaterThan(5)
    expect(Math.abs(seconds - rec.durationSeconds)).toBeLessThan(0.5)
    const streams = await ffprobe(success.recording!)
    expect(streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 640, height: 360 })
    expect(streams.some((s) => s.codec_type === 'audio')).toBe(true)

    const head = await get(success.recording!, { method: 'HEAD' })
    expect(head.res.status).toBe(200)
    expect(head.res.headers.get('content-length')).toBe(String(body.length))
    expect(head.body.length).toBe(0)
    const part = await get(success.recording!, { headers: { Range: 'bytes=100-1099' } })
    expect(part.res.status).toBe(206)
    expect(part.res.headers.get('content-range')).toBe(`bytes 100-1099/${body.length}`)
    expect(part.body.equals(body.subarray(100, 1100))).toBe(true)
    expect((await get(`${dvm.publicUrl}/${'ab'.repeat(32)}.mp4`)).res.status).toBe(404)
    // The parts were cleaned up once the blob was stored.
    expect(await readdir(join(dir, 'recording-parts')).catch(() => [])).toEqual([])
  }, 180_000)

  it('a 1080p30 + tone push makes every rendition at its size; 4:3 and portrait are not forced into 16:9, and the 6311 says so', async () => {
    const cases: Array<{ width: number; height: number; renditions: Rendition[]; expected: Array<[string, number, number]> }> = [
      { width: 1920, height: 1080, renditions: ['720p', '480p', '360p'], expected: [['720p', 1280, 720], ['480p', 854, 480], ['360p', 640, 360]] },
      { width: 640, height: 480, renditions: ['720p', '480p', '360p'], expected: [['480p', 640, 480], ['360p', 480, 360]] },
      { width: 360, height: 640, renditions: ['360p', '240p'], expected: [['360p', 360, 640], ['240p', 240, 426]] },
    ]
    for (const [i, c] of cases.entries()) {
      const clip = await ensureTestClip({ width: c.width, height: c.height, fps: 30, keyframeSeconds: 1 })
      const key = newKey()
      const req = await submit({ key, d: `shape-${i}`, renditions: c.renditions })
      // Before the input is known, the result names the rungs but no sizes.
      expect(latestResult(req.id)?.variants.map((v) => [v.name, v.width])).toEqual(c.renditions.map((r) => [r, undefined]))
      const abort = new AbortController()
      const push = pushTestStream({ url: `${dvm.ingestUrl}/${key}`, clip, signal: abort.signal })
      try {
        await waitPublished('7000 live', feedbackFor(req.id, (f) => f.live === true), 40_000)
        const result = await waitFor('6311 with sizes', () => {
          const r = latestResult(req.id)
          return r?.variants.every((v) => v.width !== undefined) ? r : undefined
        })
        expect(result.variants.map((v) => [v.name, v.width, v.height])).toEqual(c.expected)
        for (const v of result.variants) {
          const streams = await ffprobe(v.url)
          expect(streams.find((s) => s.codec_type === 'video'), v.name).toMatchObject({ codec_name: 'h264', width: v.width, height: v.height })
          expect(streams.find((s) => s.codec_type === 'audio')?.codec_name, v.name).toBe('aac')
        }
        const master = (await get(result.masterUrl)).body.toString()
        for (const [, w, h] of c.expected) expect(master).toContain(`RESOLUTION=${w}x${h}`)
      } finally {
        abort.abort()
        await push.exited
      }
    }
  }, 180_000)

  it('close() stops ffmpeg, ends the playlists, keeps the recording, publishes the last 7000, and leaves no process', async () => {
    const clip = await ensureTestClip({ width: 640, height: 360, fps: 30, keyframeSeconds: 1 })
    const key = newKey()
    const req = await submit({ key, d: 'shutdown-show', record: true })
    const abort = new AbortController()
    let push: Push | undefined
    try {
      push = pushTestStream({ url: `${dvm.ingestUrl}/${key}`, clip, signal: abort.signal })
      await waitPublished('7000 live', feedbackFor(req.id, (f) => f.live === true), 40_000)
      const result = latestResult(req.id)!
      await waitFor('2 segments', async () => ((await get(result.variants[0].url)).body.toString().match(/^#EXTINF:/gm) ?? []).length >= 2, 30_000)
      expect(dvmChildren().length).toBeGreaterThan(0) // the transcoder, so the check below can fail

      await dvm.close()

      expect(dvmChildren()).toEqual([])
      const streamId = new URL(result.masterUrl).pathname.split('/')[2]
      const playlist = await readFile(join(dir, 'hls', streamId, '360p.m3u8'), 'utf8')
      expect(playlist.trimEnd().endsWith('#EXT-X-ENDLIST')).toBe(true)
      // The publisher was let go, and the HTTP port is closed.
      expect((await push.exited).code).not.toBe(0)
      await expect(fetch(result.masterUrl)).rejects.toThrow()
      // The last words were stored by the relay before close() returned: ask it afresh.
      const stored = await new Promise<NostrEvent[]>((resolve) => {
        const got: NostrEvent[] = []
        const sub = client.subscribe([{ kinds: [KIND_JOB_FEEDBACK, KIND_TRANSCODE_RESULT], authors: [dvm.pubkey], '#e': [req.id] }], {
          onevent: (e) => void got.push(e as NostrEvent),
          oneose: () => (sub.close(), resolve(got)),
        })
      })
      const last = getJobFeedback(stored.find(feedbackFor(req.id, (f) => f.status === 'success'))!)!
      expect(last.message).toMatch(/shut down/)
      expect(last.recording).toMatch(/\/[0-9a-f]{64}\.mp4$/)
      expect(getLatestTranscodeResult(stored, req.id, dvm.pubkey)?.recording).toBe(last.recording)
      const sha = /([0-9a-f]{64})\.mp4$/.exec(last.recording!)![1]
      const blob = await readFile(join(dir, 'recordings', `${sha}.mp4`))
      expect(createHash('sha256').update(blob).digest('hex')).toBe(sha)
      expect(await duration(join(dir, 'recordings', `${sha}.mp4`))).toBeGreaterThan(1)
    } finally {
      abort.abort()
      await push?.exited
    }
  }, 120_000)

  it('after an unclean stop, the next start ends what was left live, hands over the recording, and restarts no finished job', async () => {
    // What a killed DVM leaves: a job noted as running, its playlist without ENDLIST, its recording parts.
    const streamId = 'killedstream1'
    const live = join(dir, 'hls', streamId)
    await mkdir(live, { recursive: true })
    await writeFile(join(live, '360p.m3u8'), '#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:1.0,\n360p-0.ts\n')
    const parts = join(dir, 'recording-parts', streamId)
    await mkdir(parts, { recursive: true })
    const flv = join(dir, 'killed.flv')
    await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=15', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '2', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '15', '-c:a', 'aac', '-f', 'flv', flv])
    await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', flv, ...recordingOutputArgs({ hasVideo: true, hasAudio: true, width: 320, height: 240, fps: 15 }, false, join(parts, 'part-000.mp4'))])
    const req = request({ key: newKey(), d: 'killed-show', record: true })
    await client.publish(req) // the relay will send it to the next DVM again
    await writeFile(join(dir, 'jobs', 'active', `${streamId}.json`), JSON.stringify(req))
    const before = workerEvents.length

    dvm = await startDvm(
      { ...DEFAULT_CONFIG, relayUrl: relay.url, httpHost: '127.0.0.1', httpPort: 0, dataDir: dir, maxStreams: 10, graceMs: GRACE_MS, preset: 'ultrafast' },
      { ...INGEST_DEFAULTS, host: '127.0.0.1', rtmpPort: 0, dataDir: dir, libraryLogLevel: 'info' },
      { log: logs.log, onEvent: (e) => workerEvents.push(e) },
    )
    const success = getJobFeedback(await waitPublished('7000 with the recovered recording', feedbackFor(req.id, (f) => f.status === 'success'), 30_000))!
    expect(success.message).toMatch(/transcoder stopped/)
    expect(success.recording).toMatch(new RegExp(`^${dvm.publicUrl}/[0-9a-f]{64}\\.mp4$`))
    await waitFor('the 6311 with the recording', () => latestResult(req.id)?.recording === success.recording)
    const { res, body } = await get(success.recording!)
    expect(res.status).toBe(200)
    expect(createHash('sha256').update(body).digest('hex')).toBe(/([0-9a-f]{64})\.mp4$/.exec(success.recording!)![1])
    expect(await duration(success.recording!)).toBeGreaterThan(1.5)
    expect(hasEndList(await readFile(join(live, '360p.m3u8'), 'utf8'))).toBe(true)
    expect(await readdir(join(dir, 'recording-parts'))).toEqual([])
    expect(await readdir(join(dir, 'jobs', 'active'))).toEqual([])

    // The relay sent every stored request again: the interrupted one and the ones that ended
    // before the restart are over, none is started again.
    const ignored = await waitFor('the replayed requests to be ignored', () => {
      const seen = workerEvents.slice(before).filter((e) => e.type === 'ignored' && e.reason === 'already finished')
      return seen.length >= 3 ? seen : undefined
    })
    expect(ignored.map((e) => e.jobId)).toContain(req.id)
    expect(workerEvents.slice(before).filter((e) => e.type === 'accepted')).toEqual([])
  }, 60_000)

  it('the stream key is in no event, log line, console output or HTTP response', () => {
    expect(keys.length).toBeGreaterThanOrEqual(4)
    expect(responses.length).toBeGreaterThan(20)
    const events = JSON.stringify(published)
    // And nothing went wrong on the way (errors would be logged, never thrown at the caller).
    expect(logs.lines.filter((l) => l.startsWith('error '))).toEqual([])
    for (const key of keys) {
      expect(events).not.toContain(key)
      expect(logs.text()).not.toContain(key)
      expect(stdio.text()).not.toContain(key)
      for (const r of responses) expect(r).not.toContain(key)
    }
  })
})
