import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectRelay } from '../../dvm/relay-client.ts'
import type { RelayClient } from '../../dvm/relay-client.ts'
import { KIND_LIVE_EVENT } from '../../protocol/kinds.ts'
import { getLiveEvent } from '../../protocol/nip53.ts'
import { DESKTOP, describeProblems, keepEvidence, launchChromium, openPage } from '../browser/chromium.ts'
import type { WatchedPage } from '../browser/chromium.ts'
import { startObs } from '../browser/obs.ts'
import type { Obs } from '../browser/obs.ts'
import { waitForEvent } from '../browser/relay-wait.ts'
import { readText, setField, tid, waitForText } from '../browser/ui.ts'
import { waitForPlayback } from '../browser/video.ts'
import { isAlive, startRelaycast } from './start-process.ts'
import type { StartProcess } from './start-process.ts'

/**
 * Issue 6's loop, with everything real: `relaycast start` as a child process, headless Chromium
 * as the streamer (go-live form, OBS card, dashboard) and as a viewer (grid, watch page, chat),
 * ffmpeg as OBS with the key the card showed. Go live → the grid shows it → it plays → chat
 * round-trips → the viewer count reaches the dashboard → stop → ended everywhere → recording.
 * Steps share state and run in order; selectors are the client contract's data-testids only.
 */

const STEP_MS = 120_000
const title = `Loop test ${Date.now().toString(36)}`

let dataDir: string
let rc: StartProcess
let browser: Browser
let watcher: RelayClient
let streamer: WatchedPage
let viewer: WatchedPage
let obs: Obs | undefined
let streamerPubkey: string | undefined
let ffmpegPids: number[] = []

async function step<T>(p: WatchedPage, name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    await keepEvidence(p, `loop-${name}`)
    const e = err as Error
    e.message = `${e.message}${describeProblems(p)}\nrelaycast output tail:\n${rc?.output().slice(-1500)}`
    throw e
  }
}

async function signInLocal(p: WatchedPage): Promise<void> {
  await tid(p.page, 'sign-in').click()
  await tid(p.page, 'sign-in-local').click()
  await tid(p.page, 'signed-in-as').waitFor({ state: 'visible', timeout: 20_000 })
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'relaycast-loop-'))
  // Ultrafast and a short grace keep the 2 cores for the browsers and end the stream promptly.
  rc = await startRelaycast(dataDir, ['--preset', 'ultrafast', '--grace', '3', '--metrics-interval', '2', '--chat-slow-mode', '0'])
  watcher = await connectRelay(rc.relayUrl)
  browser = await launchChromium()
  streamer = await openPage(await browser.newContext(DESKTOP), 'streamer')
  viewer = await openPage(await browser.newContext(DESKTOP), 'viewer')
}, 180_000)

afterAll(async () => {
  await obs?.stop()
  await browser?.close().catch(() => undefined)
  watcher?.close()
  if (rc) {
    const exit = await rc.stop('SIGINT')
    expect(exit.code, `relaycast start must exit 0 on Ctrl-C:\n${rc.output().slice(-1500)}`).toBe(0)
    expect(ffmpegPids.filter(isAlive), 'ffmpeg left running after relaycast stopped').toEqual([])
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
}, 90_000)

describe('the whole loop on one command', () => {
  it('the streamer goes live from the client: go-live form → OBS card with server and key', { timeout: STEP_MS }, async () => {
    expect(rc.appUrl).toBeDefined()
    await step(streamer, 'go-live', async () => {
      await streamer.page.goto(rc.appUrl!, { waitUntil: 'domcontentloaded' })
      await signInLocal(streamer)
      await tid(streamer.page, 'nav-go-live').click()
      await setField(tid(streamer.page, 'golive-title'), title)
      await setField(tid(streamer.page, 'golive-category'), 'testing')
      await setField(tid(streamer.page, 'golive-chat'), true)
      await setField(tid(streamer.page, 'golive-record'), true)
      const quality = tid(streamer.page, 'golive-quality')
      await setField(quality, '', (o) => /360/.test(`${o.value} ${o.label}`) && !/audio/i.test(o.label))
      const dvm = tid(streamer.page, 'golive-dvm')
      await streamer.page.waitForFunction(
        (sel) => {
          const el = document.querySelector(sel)
          return el instanceof HTMLSelectElement && [...el.options].some((o) => o.value !== '')
        },
        '[data-testid="golive-dvm"]',
        { timeout: 30_000, polling: 250 },
      )
      await setField(dvm, '', (o) => o.value.includes(rc.transcoderPubkey) || o.label.includes(rc.transcoderPubkey))
      await tid(streamer.page, 'golive-submit').click()
      await tid(streamer.page, 'obs-card').waitFor({ state: 'visible', timeout: 45_000 })
    })
    const server = await waitForText(tid(streamer.page, 'obs-server'), 'obs-server', (t) => /^rtmp:\/\//.test(t), 45_000)
    expect(server).toBe(rc.rtmpUrl)
    await tid(streamer.page, 'obs-key-reveal').click()
    const key = await waitForText(tid(streamer.page, 'obs-key'), 'the revealed key', (t) => /^\S{16,}$/.test(t), 10_000)
    await waitForText(tid(streamer.page, 'golive-status'), 'waiting for OBS', (t) => /waiting for obs/i.test(t), 45_000)

    // The viewer opens the grid before the stream is live, and signs in to chat.
    await step(viewer, 'viewer-open', async () => {
      await viewer.page.goto(rc.appUrl!, { waitUntil: 'domcontentloaded' })
      await signInLocal(viewer)
      await tid(viewer.page, 'section-live').waitFor({ state: 'attached', timeout: 20_000 })
    })

    obs = startObs(server, key)
    await step(streamer, 'live', () => waitForText(tid(streamer.page, 'golive-status'), 'golive-status live', (t) => /\blive\b/i.test(t) && !/waiting/i.test(t), 90_000))
    ffmpegPids = rc.descendants()
    expect(ffmpegPids.length, 'the transcoder runs ffmpeg under relaycast start').toBeGreaterThan(0)
    const live = await waitForEvent(watcher, '30311 live', [{ kinds: [KIND_LIVE_EVENT] }], (e) => getLiveEvent(e)?.title === title && getLiveEvent(e)?.status === 'live', 30_000)
    streamerPubkey = live.pubkey
    expect(getLiveEvent(live)!.streaming).toMatch(/\.m3u8$/)
  })

  it('the viewer\'s grid shows the stream live, and its watch page plays it', { timeout: STEP_MS }, async () => {
    const card = tid(tid(viewer.page, 'section-live'), 'stream-card').filter({ hasText: title }).first()
    await step(viewer, 'grid', () => card.waitFor({ state: 'visible', timeout: 45_000 }))
    expect(await card.getAttribute('data-status')).toBe('live')
    await tid(card, 'stream-title').click()
    await viewer.page.waitForURL((u) => u.pathname.startsWith('/naddr1'), { timeout: 15_000 })
    const playback = await step(viewer, 'playback', () => waitForPlayback(viewer.page, 'player-video', { timeoutMs: 60_000, advance: 2 }))
    expect(playback.videoWidth).toBeGreaterThan(0)
    expect(playback.advancedSeconds).toBeGreaterThanOrEqual(2)
  })

  it('chat round-trips: the viewer\'s message reaches the streamer\'s dashboard and comes back to the viewer', { timeout: STEP_MS }, async () => {
    const text = `hello from the loop ${Date.now().toString(36)}`
    await step(viewer, 'chat-send', async () => {
      await tid(viewer.page, 'chat-input').fill(text)
      await tid(viewer.page, 'chat-send').click()
    })
    await step(streamer, 'chat-dashboard', () => tid(streamer.page, 'chat-message').filter({ hasText: text }).first().waitFor({ state: 'visible', timeout: 30_000 }))
    await step(viewer, 'chat-echo', () => tid(viewer.page, 'chat-message').filter({ hasText: text }).first().waitFor({ state: 'visible', timeout: 30_000 }))
  })

  it('the viewer count reaches the streamer\'s dashboard', { timeout: STEP_MS }, async () => {
    const now = await step(streamer, 'viewers', () => waitForText(tid(streamer.page, 'dash-viewers-now'), 'dash-viewers-now ≥ 1', (t) => Number(/\d+/.exec(t)?.[0] ?? 0) >= 1, 60_000))
    expect(Number(/\d+/.exec(now)![0])).toBeGreaterThanOrEqual(1)
  })

  it('stop → ended for the streamer, on the relay and on the viewer\'s page; the recording is offered', { timeout: 180_000 }, async () => {
    await step(streamer, 'stop', () => tid(streamer.page, 'golive-stop').click())
    await waitForEvent(watcher, '30311 ended', [{ kinds: [KIND_LIVE_EVENT], authors: [streamerPubkey!] }], (e) => getLiveEvent(e)?.title === title && getLiveEvent(e)?.status === 'ended', 30_000)
    await obs?.stop()
    await step(streamer, 'ended', () => waitForText(tid(streamer.page, 'golive-status'), 'golive-status ended', (t) => /ended/i.test(t), 30_000))
    await step(viewer, 'viewer-ended', () => waitForText(tid(viewer.page, 'player-state'), 'player-state ended on the viewer', (t) => /ended/i.test(t), 30_000))
    // The recording is cut once the transcoder has finished; the streamer's client adds it to the 30311.
    const link = tid(viewer.page, 'recording-link').first()
    await step(viewer, 'recording', () => link.waitFor({ state: 'visible', timeout: 120_000 }))
    const href = await link.getAttribute('href')
    expect(href).toMatch(/^https?:\/\//)
    const res = await fetch(href!, { method: 'HEAD' })
    expect(res.status).toBe(200)
    expect(Number(res.headers.get('content-length'))).toBeGreaterThan(10_000)
    expect(await readText(tid(streamer.page, 'golive-status'))).toMatch(/ended/i)
  })
})
