import { request } from 'node:http'
import { readdirSync, readlinkSync } from 'node:fs'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../test/media/wait.ts'
import { CACHE_ENDED_PLAYLIST, CACHE_LIVE_PLAYLIST, CACHE_SEGMENT, createOrigin, listenOrigin, parseHlsPath } from './origin.ts'
import type { Origin, OriginServer } from './origin.ts'
import { DISCONTINUITY_FILE } from './playlist.ts'

const SECRET = 'TOP-SECRET-FILE-CONTENT'
const LIVE = '#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:1.0,\n720p-7.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:1.0,\n720p-8.ts\n'
const MASTER = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1280x720\n720p.m3u8\n'

/** Raw request: the path goes on the wire exactly as given (fetch would normalise ../). */
function raw(port: number, path: string, method = 'GET', headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = ''
      res.setEncoding('latin1').on('data', (d: string) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('HLS origin', () => {
  let dir: string
  let root: string
  let origin: Origin
  let server: OriginServer
  let clock = 1_000_000
  const get = (path: string, method?: string, headers?: Record<string, string>) => raw(server.port, path, method, headers)

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relaycast-origin-'))
    root = join(dir, 'hls')
    const s = join(root, 'abc')
    await mkdir(s, { recursive: true })
    await writeFile(join(dir, 'secret.txt'), SECRET)
    await writeFile(join(root, 'secret.txt'), SECRET)
    await writeFile(join(s, 'master.m3u8'), MASTER)
    await writeFile(join(s, '720p.m3u8'), LIVE)
    await writeFile(join(s, '480p.m3u8'), `${LIVE}#EXT-X-ENDLIST\n`)
    await writeFile(join(s, '720p-7.ts'), Buffer.alloc(1880, 0x47))
    await writeFile(join(s, 'a.aac'), Buffer.from([0xff, 0xf1]))
    await writeFile(join(s, 'init.mp4'), Buffer.from('mp4'))
    await writeFile(join(s, '.hidden.ts'), SECRET)
    await writeFile(join(s, '720p-9.ts.tmp'), SECRET)
    await writeFile(join(s, DISCONTINUITY_FILE), JSON.stringify({ '720p': [3, 8] }))
    await symlink(join(dir, 'secret.txt'), join(s, 'link.ts'))
    await mkdir(join(s, 'sub.ts'))
    origin = createOrigin({ root, now: () => clock })
    server = await listenOrigin(origin, 0)
  })

  afterAll(async () => {
    await server?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('serves playlists with the HLS MIME type, CORS and a one-second cache while live', async () => {
    const res = await get('/hls/abc/720p.m3u8')
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toBe('application/vnd.apple.mpegurl')
    expect(res.headers['access-control-allow-origin']).toBe('*')
    expect(res.headers['cache-control']).toBe(CACHE_LIVE_PLAYLIST)
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.body))
    const master = await get('/hls/abc/master.m3u8')
    expect(master.body).toBe(MASTER)
  })

  it('adds the discontinuity sequence ffmpeg leaves out, counting discontinuities that left the window', async () => {
    const { body } = await get('/hls/abc/720p.m3u8')
    // 3 < 7 has slid out; 8 is still listed.
    expect(body).toContain('#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n')
  })

  it('lets caches keep an ended playlist longer', async () => {
    expect((await get('/hls/abc/480p.m3u8')).headers['cache-control']).toBe(CACHE_ENDED_PLAYLIST)
  })

  it('serves segments as immutable with their MIME types', async () => {
    const ts = await get('/hls/abc/720p-7.ts')
    expect(ts.status).toBe(200)
    expect(ts.headers['content-type']).toBe('video/mp2t')
    expect(ts.headers['cache-control']).toBe(CACHE_SEGMENT)
    expect(ts.headers['access-control-allow-origin']).toBe('*')
    expect(ts.body.length).toBe(1880)
    expect((await get('/hls/abc/a.aac')).headers['content-type']).toBe('audio/aac')
    expect((await get('/hls/abc/init.mp4')).headers['content-type']).toBe('video/mp4')
  })

  it('closes a segment file when the player hangs up mid-download', async () => {
    const path = join(root, 'abc', '720p-100.ts')
    await writeFile(path, Buffer.alloc(8 * 1024 * 1024, 0x47))
    const openHandles = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === path
        } catch {
          return false // closed while we looked
        }
      }).length
    const abort = new AbortController()
    const res = await fetch(`http://127.0.0.1:${server.port}/hls/abc/720p-100.ts`, { signal: abort.signal })
    await res.body!.getReader().read()
    expect(openHandles()).toBe(1)
    abort.abort()
    await waitFor('the segment file to be closed', () => openHandles() === 0, 5_000, 20)
  })

  it('answers HEAD with the headers and no body', async () => {
    const res = await get('/hls/abc/720p-7.ts', 'HEAD')
    expect(res.status).toBe(200)
    expect(res.headers['content-length']).toBe('1880')
    expect(res.body).toBe('')
  })

  it('answers CORS preflight and refuses other methods', async () => {
    const pre = await get('/hls/abc/master.m3u8', 'OPTIONS')
    expect(pre.status).toBe(204)
    expect(pre.headers['access-control-allow-methods']).toContain('GET')
    const post = await get('/hls/abc/master.m3u8', 'POST')
    expect(post.status).toBe(405)
    expect(post.headers.allow).toBe('GET, HEAD, OPTIONS')
  })

  it('404s unknown streams and missing files', async () => {
    expect((await get('/hls/nope/master.m3u8')).status).toBe(404)
    expect((await get('/hls/abc/1080p.m3u8')).status).toBe(404)
    expect((await get('/elsewhere')).status).toBe(404)
  })

  it('lists no directories and serves no dot files, temp files, symlinks or directories', async () => {
    for (const path of ['/hls/', '/hls/abc', '/hls/abc/', '/hls/abc/.hidden.ts', '/hls/abc/720p-9.ts.tmp', '/hls/abc/link.ts', '/hls/abc/sub.ts', `/hls/abc/${DISCONTINUITY_FILE}`]) {
      const res = await get(path)
      expect(res.status, path).toBe(404)
      expect(res.body, path).not.toContain(SECRET)
      expect(res.body, path).not.toContain('720p')
    }
  })

  it('refuses path traversal, plain or encoded', async () => {
    const attempts = [
      '/hls/../secret.txt',
      '/hls/abc/../secret.txt',
      '/hls/abc/../../secret.txt',
      '/hls/abc/..%2fsecret.txt',
      '/hls/abc/..%2F..%2Fsecret.txt',
      '/hls/abc/%2e%2e%2fsecret.txt',
      '/hls/%2e%2e/secret.txt',
      '/hls/abc%2f..%2f..%2fsecret.txt/x.ts',
      '/hls/abc/..%5csecret.txt',
      '/hls/abc/%252e%252e%252fsecret.txt',
      '/hls/abc/secret.txt%00.ts',
      '/hls/abc/%E0%A4%A',
      '/hls//secret.txt',
      '/hls/abc//etc/passwd',
    ]
    for (const path of attempts) {
      const res = await get(path)
      expect([400, 404], path).toContain(res.status)
      expect(res.body, path).not.toContain(SECRET)
    }
  })

  it('counts distinct viewers (address + user agent) seen in the last 30 s', async () => {
    const before = origin.viewers('abc')
    await get('/hls/abc/720p.m3u8', 'GET', { 'User-Agent': 'viewer-A' })
    await get('/hls/abc/720p-7.ts', 'GET', { 'User-Agent': 'viewer-A' })
    await get('/hls/abc/720p.m3u8', 'GET', { 'User-Agent': 'viewer-B' })
    expect(origin.viewers('abc') - before).toBe(2)
    expect(origin.viewers('nope')).toBe(0)
    clock += 29_000
    await get('/hls/abc/720p.m3u8', 'GET', { 'User-Agent': 'viewer-B' })
    clock += 2_000
    // A was last seen 31 s ago, B 2 s ago.
    expect(origin.viewers('abc')).toBe(1)
    clock += 60_000
    expect(origin.viewers('abc')).toBe(0)
    await get('/hls/abc/720p.m3u8', 'GET', { 'User-Agent': 'viewer-C' })
    expect(origin.viewers('abc')).toBe(1)
    origin.forget('abc')
    expect(origin.viewers('abc')).toBe(0)
  })
})

describe('parseHlsPath', () => {
  it('accepts only <stream id>/<flat media file name>, checked after decoding', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40 }), (a, b) => {
        const parsed = parseHlsPath(`${a}/${b}`)
        if (parsed === undefined || parsed === 'bad') return
        for (const part of [parsed.streamId, parsed.file]) {
          expect(part).not.toMatch(/[/\\\0]|\.\./)
          expect(part.startsWith('.')).toBe(false)
        }
        expect(parsed.file).toMatch(/\.(m3u8|ts|aac|m4s|mp4)$/)
      }),
      { numRuns: 1000 },
    )
    expect(parseHlsPath('abc/720p.m3u8')).toEqual({ streamId: 'abc', file: '720p.m3u8' })
    expect(parseHlsPath('a%62c/720p.m3u8')).toEqual({ streamId: 'abc', file: '720p.m3u8' })
    expect(parseHlsPath('abc/%E0%A4%A')).toBe('bad')
    expect(parseHlsPath('abc/x/720p.m3u8')).toBeUndefined()
  })
})
