/**
 * `npm run bench:e2e`: glass-to-glass latency of the whole product on this machine.
 *
 * `relaycast start` runs as a child process on free loopback ports; Node plays the streamer's
 * client (30311 + 5311 job, 30311 live once the transcoder says so) and OBS (ffmpeg fed frames
 * stamped with the wall clock, test/e2e/stamped-push.ts); headless Chromium opens the real web
 * app's watch page before OBS connects and reads the stamp out of every presented frame it
 * samples (test/e2e/viewer-probe.ts). Latency = Date.now() at presentation − the frame's stamp,
 * one clock. Beside it, the origin's share: when each segment was listed − its last frame's stamp.
 *
 * Settings (environment): G2G_SECONDS measuring window after the first frame (60), G2G_RENDITIONS
 * (720p,480p,360p), G2G_KEYFRAME OBS keyframe interval s (1), G2G_SEGMENT / G2G_PRESET passed to
 * the transcoder (--segment-seconds / --preset; unset: its defaults), G2G_WIDTH/G2G_HEIGHT (1280x720).
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { connectRelay } from '../../dvm/relay-client.ts'
import { encodeNaddr } from '../../protocol/coordinate.ts'
import type { Coordinate } from '../../protocol/coordinate.ts'
import { buildTranscodeRequest, generateStreamKey, getJobFeedback, getTranscodeResult, hashStreamKey } from '../../protocol/job.ts'
import type { Rendition } from '../../protocol/job.ts'
import { finalizeEvent, generateSecretKey, getPublicKey } from '../../protocol/keys.ts'
import { KIND_JOB_FEEDBACK, KIND_LIVE_EVENT, KIND_TRANSCODE_RESULT } from '../../protocol/kinds.ts'
import { buildLiveEvent } from '../../protocol/nip53.ts'
import type { LiveEventInput } from '../../protocol/nip53.ts'
import type { NostrEvent } from '../../protocol/types.ts'
import { CELLS, decodeCells, lumaToCells } from '../e2e/stamp.ts'
import { pushStampedStream } from '../e2e/stamped-push.ts'
import { startRelaycast } from '../e2e/start-process.ts'
import { DRAIN_JS, PROBE_INIT_JS } from '../e2e/viewer-probe.ts'
import type { ProbeState } from '../e2e/viewer-probe.ts'

const env = process.env
const SECONDS = Number(env.G2G_SECONDS ?? 60)
const RENDITIONS = (env.G2G_RENDITIONS ?? '720p,480p,360p').split(',') as Rendition[]
const KEYFRAME = Number(env.G2G_KEYFRAME ?? 1)
const WIDTH = Number(env.G2G_WIDTH ?? 1280)
const HEIGHT = Number(env.G2G_HEIGHT ?? 720)
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required']

const log = (line: string): void => console.error(`[${new Date().toISOString().slice(11, 23)}] ${line}`)

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN
  const i = (sorted.length - 1) * q
  const lo = Math.floor(i)
  return sorted[lo] + (sorted[Math.min(lo + 1, sorted.length - 1)] - sorted[lo]) * (i - lo)
}
const s = (ms: number): string => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : 'n/a')

/** First and last frame stamps of a TS segment: ffmpeg crops every frame to its strip (tiny). */
function segmentStamps(bytes: Uint8Array): Promise<{ first?: number; last?: number }> {
  const w = CELLS * 10
  const h = 12
  return new Promise((resolve) => {
    const child = execFile(
      'ffmpeg',
      ['-hide_banner', '-loglevel', 'error', '-f', 'mpegts', '-i', 'pipe:0', '-map', '0:v:0', '-vf', `crop=iw:ih/8:0:0,scale=${w}:${h}:flags=area`, '-pix_fmt', 'rgba', '-f', 'rawvideo', '-'],
      { encoding: 'buffer', maxBuffer: 1 << 26 },
      (err, out) => {
        if (err || out.length < w * h * 4) return resolve({})
        const frame = (i: number): number | undefined => {
          const rgba = out.subarray(i * w * h * 4, (i + 1) * w * h * 4)
          const luma: number[] = []
          for (let c = 0; c < CELLS; c++) {
            let sum = 0
            for (let y = 4; y < 8; y++) for (let x = c * 10 + 3; x < c * 10 + 7; x++) sum += rgba[(y * w + x) * 4]
            luma.push(sum / 16)
          }
          return decodeCells(lumaToCells(luma))
        }
        resolve({ first: frame(0), last: frame(Math.floor(out.length / (w * h * 4)) - 1) })
      },
    )
    child.stdin!.on('error', () => undefined)
    child.stdin!.end(bytes)
  })
}

interface SegmentLag {
  variant: string
  listedAt: number
  first?: number
  last?: number
}

/** Polls a variant playlist; for every new segment, when it was listed and its stamps. */
const lastPlaylist = new Map<string, string>()

function watchOrigin(variant: string, url: string, signal: AbortSignal, out: SegmentLag[]): Promise<void> {
  const seen = new Set<string>()
  return (async () => {
    let decoding = 0
    while (!signal.aborted) {
      const text = await fetch(url, { signal }).then((r) => (r.ok ? r.text() : ''), () => '')
      const now = Date.now()
      if (text) lastPlaylist.set(variant, text)
      const segments = text.split('\n').filter((l) => l.trim() && !l.startsWith('#'))
      const first = seen.size === 0
      for (const seg of segments) {
        if (seen.has(seg)) continue
        seen.add(seg)
        if (first) continue // listed before we looked: no arrival time
        const entry: SegmentLag = { variant, listedAt: now }
        out.push(entry)
        // Every third segment, one decode at a time: keep the CPU for the system under test.
        if (decoding > 0 || out.filter((l) => l.variant === variant).length % 3 !== 1) continue
        decoding++
        void fetch(new URL(seg, url), { signal })
          .then((r) => r.arrayBuffer())
          .then((b) => segmentStamps(new Uint8Array(b)))
          .then((st) => Object.assign(entry, st), () => undefined)
          .finally(() => decoding--)
      }
      await new Promise((r) => setTimeout(r, 100))
    }
  })()
}

async function main(): Promise<void> {
  const loadStart = loadavg()[0]
  const dataDir = await mkdtemp(join(tmpdir(), 'relaycast-bench-e2e-'))
  const extra: string[] = []
  if (env.G2G_SEGMENT) extra.push('--segment-seconds', env.G2G_SEGMENT)
  if (env.G2G_PRESET) extra.push('--preset', env.G2G_PRESET)
  log(`starting relaycast (data ${dataDir}${extra.length ? `, ${extra.join(' ')}` : ''})`)
  const rc = await startRelaycast(dataDir, ['--chat-slow-mode', '0', ...extra])
  const abort = new AbortController()
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS, timeout: 60_000 })
  const relay = await connectRelay(rc.relayUrl)
  try {
    if (!rc.appUrl) throw new Error('relaycast start served no web app')
    // The streamer's client, from Node: planned 30311, then the job.
    const sk = generateSecretKey()
    const pubkey = getPublicKey(sk)
    const coordinate: Coordinate = { kind: KIND_LIVE_EVENT, pubkey, identifier: `g2g-${Date.now().toString(36)}` }
    const relays = [rc.relayUrl]
    const base: LiveEventInput = { identifier: coordinate.identifier, title: 'Glass-to-glass bench', summary: 'stamped frames', category: 'testing', tags: ['bench'], status: 'planned', hosts: [{ pubkey, role: 'Host' }], relays }
    let createdAt = Math.floor(Date.now() / 1000)
    await relay.publish(finalizeEvent(buildLiveEvent(base, createdAt), sk))
    const key = generateStreamKey()
    const request = finalizeEvent(
      buildTranscodeRequest({ coordinate, keyHash: hashStreamKey(key), renditions: RENDITIONS, record: false, dvm: rc.transcoderPubkey, relays, expiration: createdAt + 3600 }),
      sk,
    )
    const jobEvents: NostrEvent[] = []
    relay.subscribe([{ kinds: [KIND_TRANSCODE_RESULT, KIND_JOB_FEEDBACK], '#e': [request.id] }], (e) => void jobEvents.push(e), abort.signal)
    await relay.publish(request)
    const result = await waitUntil('the 6311 result', () => jobEvents.map(getTranscodeResult).find((r) => r?.requestId === request.id), 30_000)

    // The viewer opens the watch page while the streamer is still "waiting for OBS".
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    await context.addInitScript({ content: PROBE_INIT_JS })
    const page = await context.newPage()
    const problems: string[] = []
    page.on('pageerror', (err) => problems.push(err.message))
    const watchUrl = `${rc.appUrl}${encodeNaddr(coordinate, relays)}`
    await page.goto(watchUrl, { waitUntil: 'load' })
    log(`viewer on ${watchUrl}`)

    // OBS connects; the streamer marks the stream live as soon as the transcoder reports media.
    const push = pushStampedStream({ url: `${result.ingestUrl}/${key}`, width: WIDTH, height: HEIGHT, fps: 30, keyframeSeconds: KEYFRAME, signal: abort.signal })
    const obsAt = push.startedAt
    void push.exited.then((x) => !abort.signal.aborted && log(`OBS (ffmpeg) exited early: ${x.code} ${x.stderr.slice(-400)}`))
    await waitUntil('7000 live', () => jobEvents.some((e) => getJobFeedback(e)?.requestId === request.id && getJobFeedback(e)?.live === true), 60_000)
    const liveAt = Date.now()
    createdAt = Math.max(createdAt + 1, Math.floor(Date.now() / 1000))
    await relay.publish(finalizeEvent(buildLiveEvent({ ...base, status: 'live', streaming: result.masterUrl, starts: createdAt, currentParticipants: 0 }, createdAt), sk))
    const lags: SegmentLag[] = []
    const origin = result.variants.map((v) => watchOrigin(v.name, v.url, abort.signal, lags))

    // First frame, then the measuring window.
    let state: ProbeState | null = null
    const samples: Array<{ at: number; stamp: number | undefined }> = []
    const drain = async (): Promise<void> => {
      state = (await page.evaluate(DRAIN_JS)) as ProbeState | null
      for (const x of state?.samples ?? []) samples.push({ at: x.at, stamp: decodeCells(lumaToCells(x.luma)) })
    }
    const firstFrameAt = await waitUntil('the first frame in the viewer', async () => (await drain(), (state as ProbeState | null)?.firstFrameAt), 90_000, 250)
    log(`first frame ${s(firstFrameAt - obsAt)} after OBS connected; measuring for ${SECONDS} s`)
    samples.length = 0 // start-up samples (catching up to the live edge) are reported apart
    const windowEnd = Date.now() + SECONDS * 1000
    while (Date.now() < windowEnd) {
      await new Promise((r) => setTimeout(r, 5000))
      await drain()
      const recent = samples.filter((x) => x.stamp !== undefined && x.at > Date.now() - 5000).map((x) => x.at - x.stamp!)
      const st = state as ProbeState | null
      log(`last 5 s: ${recent.length} frames read, median ${s(quantile([...recent].sort((a, b) => a - b), 0.5))}; buffer ahead ${st?.ahead.toFixed(2)} s, rate ${st?.rate}, ${st?.width}x${st?.height}`)
    }
    await drain()
    const final = state as ProbeState | null

    const lat = samples.filter((x) => x.stamp !== undefined).map((x) => x.at - x.stamp!).sort((a, b) => a - b)
    const unread = samples.filter((x) => x.stamp === undefined).length
    const stalls = (final?.stalls ?? []).filter((x) => x.at >= firstFrameAt)
    const decoded = lags.filter((l) => l.last !== undefined && l.first !== undefined)
    const originLag = decoded.map((l) => l.listedAt - l.last!).sort((a, b) => a - b)
    const segLen = decoded.map((l) => l.last! - l.first! + 1000 / 30).sort((a, b) => a - b)
    const byVariant = [...new Set(decoded.map((l) => l.variant))].map((v) => {
      const xs = decoded.filter((l) => l.variant === v).map((l) => l.listedAt - l.last!).sort((a, b) => a - b)
      return `${v} ${s(quantile(xs, 0.5))}`
    })

    console.log(
      [
        '',
        `bench:e2e — glass-to-glass on this machine (${WIDTH}x${HEIGHT}@30 pushed, keyframe ${KEYFRAME} s, renditions ${RENDITIONS.join(',')}, transcoder ${extra.join(' ') || 'defaults'})`,
        `  viewer played                 ${final?.width}x${final?.height}`,
        `  glass-to-glass latency        p50 ${s(quantile(lat, 0.5))}   p95 ${s(quantile(lat, 0.95))}   min ${s(lat[0])}   max ${s(lat[lat.length - 1])}   (${lat.length} frames read over ${SECONDS} s, ${unread} unreadable)`,
        `  p50 by 20 s window            ${windows(samples, windowEnd - SECONDS * 1000, 20_000).join('  ')}   (growth = the transcoder fell behind real time)`,
        `  OBS connect → first frame     ${s(firstFrameAt - obsAt)}   (transcoder said live after ${s(liveAt - obsAt)})`,
        `  stalls after first frame      ${stalls.length}${stalls.length ? ` (total ${s(stalls.reduce((a, x) => a + (x.ms ?? 0), 0))})` : ''}`,
        `  origin: segment listed after its last frame   p50 ${s(quantile(originLag, 0.5))}   p95 ${s(quantile(originLag, 0.95))}   (${byVariant.join(', ')}; ${decoded.length} segments)`,
        `  segment length (stamps)       p50 ${s(quantile(segLen, 0.5))}   playlists: ${[...lastPlaylist].map(([v, t]) => `${v} TARGETDURATION ${/#EXT-X-TARGETDURATION:(\d+)/.exec(t)?.[1]}, ${t.split('\n').filter((l) => l.startsWith('#EXTINF')).length} segments`).join('; ')}`,
        `  player's share (p50 g2g − origin p50 − segment p50)   ${s(quantile(lat, 0.5) - quantile(originLag, 0.5) - quantile(segLen, 0.5))}`,
        `  OBS frames sent / skipped for encoder lag   ${push.framesSent()} / ${push.framesSkipped()}`,
        `  load average (1 min) at start / end   ${loadStart.toFixed(2)} / ${loadavg()[0].toFixed(2)}   (2 cores; above ~2 the figures are not this product's)`,
        problems.length ? `  page errors: ${problems.slice(0, 3).join(' | ')}` : '',
      ].filter(Boolean).join('\n'),
    )
    abort.abort()
    await push.exited
    await Promise.allSettled(origin)
    await context.close()
  } finally {
    abort.abort()
    relay.close()
    await browser.close()
    const exit = await rc.stop('SIGINT')
    if (exit.code !== 0) log(`relaycast start exited with ${JSON.stringify(exit)}:\n${rc.output().slice(-2000)}`)
    await rm(dataDir, { recursive: true, force: true })
  }
}

/** p50 latency of each window of `size` ms from `start`. */
function windows(samples: ReadonlyArray<{ at: number; stamp: number | undefined }>, start: number, size: number): string[] {
  const out: string[] = []
  for (let from = start; from < start + SECONDS * 1000; from += size) {
    const xs = samples.filter((x) => x.stamp !== undefined && x.at >= from && x.at < from + size).map((x) => x.at - x.stamp!).sort((a, b) => a - b)
    out.push(s(quantile(xs, 0.5)))
  }
  return out
}

async function waitUntil<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v !== undefined && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  },
)
