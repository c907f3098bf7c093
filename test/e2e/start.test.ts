import { existsSync } from 'node:fs'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import type { Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay'
import { afterAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { buildTranscodeRequest, generateStreamKey, getTranscodeResult, hashStreamKey } from '../../protocol/job.ts'
import { finalizeEvent, generateSecretKey, getPublicKey } from '../../protocol/keys.ts'
import { KIND_LIVE_EVENT } from '../../protocol/kinds.ts'
import type { NostrEvent } from '../../protocol/types.ts'
import { pushTestStream } from '../media/push.ts'
import { waitFor } from '../media/wait.ts'
import { isAlive, runStart, startRelaycast, cleanEnv } from './start-process.ts'

useWebSocketImplementation(WebSocket)

/**
 * `relaycast start` as a real child process: it comes up on loopback with the web app, takes a
 * job, transcodes a push, and on Ctrl-C exits 0 with no ffmpeg left, its playlists ended and its
 * ports free; and each start-up failure gets its own sentence and exit code.
 */

const HAS_APP = existsSync(fileURLToPath(new URL('../../scripts/build-client.js', import.meta.url)))
const dirs: string[] = []
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'relaycast-start-'))
  dirs.push(dir)
  return dir
}

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true })
})

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer()
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })
}

const portOf = (url: string): number => Number(new URL(url.replace(/^(ws|rtmp)/, 'http')).port)

describe('relaycast start', () => {
  it('serves the app and relay on loopback, transcodes a push, and on SIGINT exits 0 with ffmpeg gone, playlists ended, ports freed', async () => {
    const data = await tempDir()
    const rc = await startRelaycast(data, HAS_APP ? [] : ['--no-app'])
    let client: Relay | undefined
    try {
      expect(rc.relayUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+/)
      expect(rc.rtmpUrl).toMatch(/^rtmp:\/\/localhost:\d+\/live$/)
      const httpBase = rc.relayUrl.replace(/^ws/, 'http')
      if (HAS_APP) {
        expect(rc.appUrl).toBe(`${httpBase}/`)
        const page = await fetch(rc.appUrl!)
        expect(page.headers.get('content-type')).toMatch(/text\/html/)
        expect(await page.text()).toMatch(/<script/i)
        // A client route falls back to the app's index.html.
        expect((await fetch(`${httpBase}/go-live`)).headers.get('content-type')).toMatch(/text\/html/)
      }
      const info = await fetch(httpBase, { headers: { accept: 'application/nostr+json' } })
      expect(((await info.json()) as { self?: string }).self).toBe(rc.relayPubkey)

      // The streamer's client: a 5311 job for the transcoder that start printed.
      client = await Relay.connect(rc.relayUrl)
      const streamer = generateSecretKey()
      const key = generateStreamKey()
      const now = Math.floor(Date.now() / 1000)
      const request = finalizeEvent(
        buildTranscodeRequest({
          coordinate: { kind: KIND_LIVE_EVENT, pubkey: getPublicKey(streamer), identifier: 'start-test' },
          keyHash: hashStreamKey(key),
          renditions: ['360p'],
          record: false,
          dvm: rc.transcoderPubkey,
          relays: [rc.relayUrl],
          expiration: now + 600,
        }),
        streamer,
      )
      const results: NostrEvent[] = []
      client.subscribe([{ '#e': [request.id] }], { onevent: (e) => void results.push(e as NostrEvent) })
      await client.publish(request)
      const result = await waitFor('the 6311 result', () => results.map(getTranscodeResult).find((r) => r?.requestId === request.id), 30_000, 50)
      expect(result.masterUrl).toMatch(/\/master\.m3u8$/)

      const push = pushTestStream({ url: `${rc.rtmpUrl}/${key}`, width: 640, height: 360, fps: 15, keyframeSeconds: 1 })
      try {
        const variantUrl = result.variants[0].url
        await waitFor('a playlist with segments', async () => /#EXTINF/.test(await fetch(variantUrl).then((r) => (r.ok ? r.text() : ''), () => '')), 60_000, 250)
        const children = rc.descendants()
        expect(children.length).toBeGreaterThan(0) // the transcoding ffmpeg

        const exit = await rc.stop('SIGINT')
        expect(exit).toEqual({ code: 0, signal: null })
        expect(children.filter(isAlive)).toEqual([])
        expect(rc.output()).toContain('stopped')
        // Ended on disk: every variant playlist has its ENDLIST.
        const streamDirs = await readdir(join(data, 'hls'))
        expect(streamDirs.length).toBe(1)
        const playlists = (await readdir(join(data, 'hls', streamDirs[0]))).filter((f) => f.endsWith('.m3u8') && f !== 'master.m3u8')
        expect(playlists.length).toBeGreaterThan(0)
        for (const p of playlists) expect(await readFile(join(data, 'hls', streamDirs[0], p), 'utf8')).toContain('#EXT-X-ENDLIST')
        for (const url of [rc.relayUrl, rc.rtmpUrl, rc.hlsUrl]) expect(await canBind(portOf(url))).toBe(true)
      } finally {
        await push.exited.catch(() => undefined)
      }
    } finally {
      client?.close()
      await rc.stop('SIGKILL')
    }
  }, 180_000)

  it('says how to install ffmpeg when it is missing (exit 3)', async () => {
    const data = await tempDir()
    const emptyPath = await tempDir()
    const r = await runStart(['--port', '0', '--rtmp-port', '0', '--http-port', '0', '--data', data], cleanEnv({ PATH: emptyPath }))
    expect(r.code).toBe(3)
    expect(r.stderr).toContain('ffmpeg was not found')
    expect(r.stderr).toContain('apt-get install ffmpeg')
  }, 90_000)

  it.each([
    ['relay', '--port'],
    ['RTMP', '--rtmp-port'],
    ['HLS', '--http-port'],
  ])('names the busy %s port and the flag that moves it (exit 4)', async (_what, flag) => {
    const data = await tempDir()
    const busy: Server = createServer()
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
    const port = (busy.address() as { port: number }).port
    try {
      const args = ['--port', '0', '--rtmp-port', '0', '--http-port', '0', '--data', data, '--no-app']
      args[args.indexOf(flag) + 1] = String(port)
      const r = await runStart(args)
      expect(r.code).toBe(4)
      expect(r.stderr).toContain(`port ${port}`)
      expect(r.stderr).toContain(`${flag} N`)
    } finally {
      busy.close()
    }
  }, 90_000)

  it('refuses a data directory it cannot write (exit 5)', async () => {
    const parent = await tempDir()
    const file = join(parent, 'not-a-dir')
    await writeFile(file, 'x')
    const r = await runStart(['--port', '0', '--rtmp-port', '0', '--http-port', '0', '--data', join(file, 'data'), '--no-app'])
    expect(r.code).toBe(5)
    expect(r.stderr).toContain('is not writable')
    expect(r.stderr).toContain('--data DIR')
  }, 90_000)

  it('refuses an unknown flag and a bad --base-url (exit 2), naming them', async () => {
    const bad = await runStart(['--frobnicate'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--frobnicate')
    const url = await runStart(['--base-url', 'ftp://x'])
    expect(url.code).toBe(2)
    expect(url.stderr).toContain('--base-url')
  }, 90_000)
})
