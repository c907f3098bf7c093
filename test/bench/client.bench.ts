/**
 * The client's weight and its time to first frame, on loopback.
 *
 * Run: npm run bench:client [-- --runs 5] [-- --static <dir>]
 *   --runs N        cold page loads timed (default 5; the median is reported)
 *   --static DIR    serve a prebuilt client instead of building one (sizes then come from the browser only)
 *
 * 1. Builds the client with scripts/build-client.js into a temp dir and prints its own gzipped
 *    figures (shell, player chunk), then checks them in Chromium: the JS a first visit to `/`
 *    loads, and the JS a watch page loads on top (gzip -9 of the served files).
 * 2. Starts the real relay (serving the build) and DVM on free loopback ports, sets a stream live
 *    from Node (30311 + 5311 job, ffmpeg looping a pre-encoded 720p clip into ingest, DVM ladder
 *    720/480/360), and opens its watch page `/<naddr>` in fresh Chromium contexts (cold cache):
 *    time from navigation start to the first presented video frame (requestVideoFrameCallback,
 *    'playing' with a picture when rVFC never fires), measured inside the page.
 * Everything is torn down at the end; a watchdog bounds the whole run.
 */
import { readFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import type { Browser, Page } from 'playwright-core'
import { DEFAULT_PRESET } from '../../dvm/hls-args.ts'
import { ensureTestClip } from '../media/push.ts'
import { DESKTOP, launchChromium, openPage } from '../browser/chromium.ts'
import { startNodeStream } from '../browser/node-streamer.ts'
import type { NodeStream } from '../browser/node-streamer.ts'
import { waitNoDescendants } from '../browser/processes.ts'
import { startSystem } from '../browser/system.ts'
import type { System } from '../browser/system.ts'
import { FIRST_FRAME_HOOK, waitForFirstFrame } from '../browser/video.ts'

const argv = process.argv.slice(2)
const arg = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1] : undefined
}
const RUNS = Math.max(1, Number(arg('runs') ?? 5))
const STATIC = arg('static')
const WATCHDOG_MS = 6 * 60_000
const FRAME_TIMEOUT_MS = 30_000

const TARGET_SHELL_KB = 30
const TARGET_WITH_PLAYER_KB = 150
const TARGET_FIRST_FRAME_MS = 2000

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} kB`
const verdict = (ok: boolean): string => (ok ? 'OK' : 'OVER TARGET')
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

let system: System | undefined
let browser: Browser | undefined
let stream: NodeStream | undefined

async function cleanup(): Promise<void> {
  await browser?.close().catch((err: Error) => console.error(`closing Chromium: ${err.message}`))
  await stream?.stop().catch((err: Error) => console.error(`stopping the stream: ${err.message}`))
  await system?.close()
  browser = undefined
  stream = undefined
  system = undefined
}

const watchdog = setTimeout(() => {
  console.error(`bench:client: still running after ${WATCHDOG_MS / 1000} s, giving up`)
  void cleanup().finally(() => process.exit(1))
}, WATCHDOG_MS)
watchdog.unref()

/** Gzipped size of the served files behind these script URLs (same-origin ones, from disk). */
async function gzippedScripts(staticDir: string, urls: string[], origin: string): Promise<{ bytes: number; files: string[]; hasHls: boolean }> {
  let bytes = 0
  let hasHls = false
  const files: string[] = []
  for (const u of new Set(urls)) {
    const url = new URL(u)
    if (url.origin !== origin) continue
    const body = await readFile(join(staticDir, decodeURIComponent(url.pathname)))
    const gz = gzipSync(body, { level: 9 }).length
    // An hls.js event name survives minification: tells whether the player code is in this file.
    if (body.includes('hlsManifestParsed')) hasHls = true
    bytes += gz
    files.push(`${url.pathname} ${kb(gz)}`)
  }
  return { bytes, files, hasHls }
}

/** Where the time went, from the page's resource timing (ms from navigation start). */
async function getMilestones(page: Page): Promise<string> {
  // A string, not a function: tsx's keepNames would wrap inner helpers in a `__name` the page lacks.
  const m = (await page.evaluate(`(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const res = performance.getEntriesByType('resource');
    const hls = res.find((r) => /hls[^/]*\\.js(\\?|$)/.test(r.name));
    const watch = res.find((r) => /\\/watch[^/]*\\.js(\\?|$)/.test(r.name));
    const master = res.find((r) => /\\.m3u8(\\?|$)/.test(r.name));
    const segment = res.find((r) => /\\.(ts|m4s|mp4)(\\?|$)/.test(r.name));
    return { dcl: nav && nav.domContentLoadedEventEnd, watchStart: watch && watch.startTime, watchEnd: watch && watch.responseEnd, hlsStart: hls && hls.startTime, hlsEnd: hls && hls.responseEnd, masterStart: master && master.startTime, segmentStart: segment && segment.startTime, segmentEnd: segment && segment.responseEnd };
  })()`)) as Record<'dcl' | 'watchStart' | 'watchEnd' | 'hlsStart' | 'hlsEnd' | 'masterStart' | 'segmentStart' | 'segmentEnd', number | undefined>
  const f = (x: number | undefined): string => (x === undefined ? '—' : String(Math.round(x)))
  return `DOMContentLoaded ${f(m.dcl)}, watch chunk ${f(m.watchStart)}→${f(m.watchEnd)}, hls.js chunk ${f(m.hlsStart)}→${f(m.hlsEnd)}, master playlist asked ${f(m.masterStart)}, first segment ${f(m.segmentStart)}→${f(m.segmentEnd)}`
}

async function main(): Promise<void> {
  console.log(`bench:client — ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  const clip = await ensureTestClip({ width: 1280, height: 720, fps: 30, keyframeSeconds: 1 })
  system = await startSystem({ staticDir: STATIC })
  const sys = system
  browser = await launchChromium()

  // ---- sizes ----
  console.log('\nsize (gzip)')
  if (sys.build) {
    const { shellBytesGz, playerBytesGz } = sys.build
    console.log(`  build script: shell ${kb(shellBytesGz)} (target ≤ ${TARGET_SHELL_KB} kB: ${verdict(shellBytesGz <= TARGET_SHELL_KB * 1024)})`)
    console.log(`  build script: player chunk ${kb(playerBytesGz)} (the watch page: player, chat, hls.js light); shell + player ${kb(shellBytesGz + playerBytesGz)} (target ≤ ${TARGET_WITH_PLAYER_KB} kB: ${verdict(shellBytesGz + playerBytesGz <= TARGET_WITH_PLAYER_KB * 1024)})`)
  } else {
    console.log(`  (prebuilt ${STATIC}: no build figures)`)
  }

  stream = await startNodeStream(sys, { title: 'bench stream', renditions: ['720p', '480p', '360p'], clip })
  const watchPath = `/${stream.naddr}${STATIC ? `?hls=${encodeURIComponent(stream.masterUrl)}` : ''}`

  {
    const ctx = await browser.newContext(DESKTOP)
    const home = await openPage(ctx, 'bench-home')
    await home.page.goto(`${sys.baseUrl}/`, { waitUntil: 'networkidle', timeout: 30_000 })
    const shell = await gzippedScripts(sys.staticDir, home.scripts, sys.baseUrl)
    const watch = await openPage(ctx, 'bench-watch')
    await watch.page.goto(`${sys.baseUrl}${watchPath}`, { waitUntil: 'networkidle', timeout: 30_000 }).catch(() => undefined) // live HLS may never idle
    const extra = await gzippedScripts(sys.staticDir, watch.scripts.filter((s) => !home.scripts.includes(s)), sys.baseUrl)
    console.log(`  in Chromium: JS loaded by a first visit to / = ${kb(shell.bytes)} in ${shell.files.length} file(s)${shell.hasHls ? ' — CONTAINS hls.js' : ', no hls.js'} (target ≤ ${TARGET_SHELL_KB} kB: ${verdict(shell.bytes <= TARGET_SHELL_KB * 1024)})`)
    for (const f of shell.files) console.log(`      ${f}`)
    console.log(`  in Chromium: all JS the watch page adds (player, hls.js, chat…) = ${kb(extra.bytes)} in ${extra.files.length} file(s)${extra.hasHls ? ' (hls.js among them)' : ''}; total ${kb(shell.bytes + extra.bytes)} (target ≤ ${TARGET_WITH_PLAYER_KB} kB: ${verdict(shell.bytes + extra.bytes <= TARGET_WITH_PLAYER_KB * 1024)})`)
    for (const f of extra.files) console.log(`      ${f}`)
    await ctx.close()
  }

  // ---- first frame ----
  console.log(`\nfirst frame: open ${sys.baseUrl}/<naddr> in a fresh context (cold cache) → first decoded frame; stream ${stream.masterUrl} (DVM preset ${DEFAULT_PRESET}, ladder 720/480/360)`)
  const times: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const ctx = await browser.newContext(DESKTOP)
    await ctx.addInitScript(FIRST_FRAME_HOOK)
    const p = await openPage(ctx, `bench-run-${i}`)
    try {
      await p.page.goto(`${sys.baseUrl}${watchPath}`, { waitUntil: 'commit', timeout: 15_000 })
      const ff = await waitForFirstFrame(p.page, FRAME_TIMEOUT_MS)
      const t = ff.frame ?? ff.playing!
      times.push(t)
      console.log(`  run ${i + 1}: ${Math.round(t)} ms (${ff.frame !== undefined ? 'requestVideoFrameCallback' : "'playing', rVFC never fired"}; 'playing' at ${ff.playing === undefined ? '—' : Math.round(ff.playing)} ms; ${ff.width} px wide)`)
      console.log(`         ${await getMilestones(p.page).catch((err: Error) => `(no timings: ${err.message.split('\n')[0]})`)}`)
    } catch (err) {
      console.log(`  run ${i + 1}: no frame within ${FRAME_TIMEOUT_MS} ms (${(err as Error).message.split('\n')[0]})${p.problems.length ? `; page: ${p.problems.slice(-3).join(' | ')}` : ''}`)
    } finally {
      await ctx.close()
    }
  }
  if (times.length) {
    const m = median(times)
    console.log(`  median ${Math.round(m)} ms over ${times.length}/${RUNS} runs (min ${Math.round(Math.min(...times))}, max ${Math.round(Math.max(...times))}); target ≤ ${TARGET_FIRST_FRAME_MS} ms: ${verdict(m <= TARGET_FIRST_FRAME_MS)}`)
  } else {
    console.log('  no run showed a frame')
    process.exitCode = 1
  }
  console.log(`\nload average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (other work on the machine slows every figure above)`)
}

try {
  await main()
} catch (err) {
  console.error(`bench:client failed: ${(err as Error).stack ?? String(err)}`)
  process.exitCode = 1
} finally {
  await cleanup()
  clearTimeout(watchdog)
  const left = await waitNoDescendants(10_000)
  if (left.length) {
    console.error(`bench:client: processes left behind:\n  ${left.join('\n  ')}`)
    process.exitCode = 1
  }
}
