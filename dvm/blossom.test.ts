import { createHash, randomBytes } from 'node:crypto'
import { readdirSync, readlinkSync } from 'node:fs'
import { mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../test/media/wait.ts'
import { CACHE_BLOB, createBlossom, parseRange } from './blossom.ts'
import type { BlobInfo, Blossom } from './blossom.ts'
import { listenHttp } from './origin.ts'
import type { OriginServer } from './origin.ts'

describe('embedded Blossom server (BUD-01)', () => {
  let dir: string
  let blossom: Blossom
  let http: OriginServer
  let base = ''
  let blob: BlobInfo
  const bytes = randomBytes(100_000)
  const sha = createHash('sha256').update(bytes).digest('hex')

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relaycast-blossom-'))
    blossom = await createBlossom({ dir: join(dir, 'blobs'), publicUrl: () => base })
    http = await listenHttp([blossom.handle], 0)
    base = `http://127.0.0.1:${http.port}`
    await writeFile(join(dir, 'recording.mp4'), bytes)
    blob = await blossom.putFile(join(dir, 'recording.mp4'), 'video/mp4')
  })

  afterAll(async () => {
    await http?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('stores a file under its sha256 and names a URL with the extension of its type', async () => {
    expect(blob).toEqual({ sha256: sha, size: bytes.length, type: 'video/mp4', url: `${base}/${sha}.mp4` })
    expect(await blossom.has(sha)).toBe(true)
    expect(await readdir(join(dir, 'blobs'))).toContain(`${sha}.mp4`)
    // Putting the same content again is a no-op.
    expect(await blossom.putFile(join(dir, 'recording.mp4'), 'video/mp4')).toEqual(blob)
  })

  it('GET returns the bytes with the stored type, length, CORS and immutable caching, with or without an extension', async () => {
    for (const path of [`/${sha}`, `/${sha}.mp4`, `/${sha}.bin`]) {
      const res = await fetch(`${base}${path}`)
      expect(res.status, path).toBe(200)
      const body = Buffer.from(await res.arrayBuffer())
      expect(createHash('sha256').update(body).digest('hex')).toBe(sha)
      expect(res.headers.get('content-type')).toBe('video/mp4')
      expect(res.headers.get('content-length')).toBe(String(bytes.length))
      expect(res.headers.get('access-control-allow-origin')).toBe('*')
      expect(res.headers.get('accept-ranges')).toBe('bytes')
      expect(res.headers.get('cache-control')).toBe(CACHE_BLOB)
      expect(res.headers.get('etag')).toBe(`"${sha}"`)
    }
  })

  it('an audio recording is an .m4a served as audio/mp4', async () => {
    await writeFile(join(dir, 'audio.m4a'), randomBytes(1000))
    const audio = await blossom.putFile(join(dir, 'audio.m4a'), 'audio/mp4')
    expect(audio.url).toBe(`${base}/${audio.sha256}.m4a`)
    const res = await fetch(audio.url)
    expect(res.headers.get('content-type')).toBe('audio/mp4')
    expect(createHash('sha256').update(Buffer.from(await res.arrayBuffer())).digest('hex')).toBe(audio.sha256)
  })

  it('HEAD answers the same headers and no body', async () => {
    const res = await fetch(blob.url, { method: 'HEAD' })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-length')).toBe(String(bytes.length))
    expect(res.headers.get('content-type')).toBe('video/mp4')
    expect((await res.arrayBuffer()).byteLength).toBe(0)
  })

  it('serves byte ranges (start-end, open-ended, suffix) and 416 past the end', async () => {
    const cases: Array<[string, number, number]> = [['bytes=0-99', 0, 99], ['bytes=1000-', 1000, bytes.length - 1], ['bytes=-500', bytes.length - 500, bytes.length - 1], ['bytes=99990-200000', 99_990, bytes.length - 1]]
    for (const [range, start, end] of cases) {
      const res = await fetch(blob.url, { headers: { Range: range } })
      expect(res.status, range).toBe(206)
      expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${bytes.length}`)
      expect(res.headers.get('content-length')).toBe(String(end - start + 1))
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes.subarray(start, end + 1)), range).toBe(true)
    }
    const past = await fetch(blob.url, { headers: { Range: `bytes=${bytes.length}-` } })
    expect(past.status).toBe(416)
    expect(past.headers.get('content-range')).toBe(`bytes */${bytes.length}`)
    // Several ranges: the whole blob instead.
    const multi = await fetch(blob.url, { headers: { Range: 'bytes=0-1,5-6' } })
    expect(multi.status).toBe(200)
    expect((await multi.arrayBuffer()).byteLength).toBe(bytes.length)
  })

  it('closes the file when a player hangs up mid-download', async () => {
    const big = randomBytes(8 * 1024 * 1024)
    await writeFile(join(dir, 'big.mp4'), big)
    const stored = await blossom.putFile(join(dir, 'big.mp4'), 'video/mp4')
    const path = join(dir, 'blobs', `${stored.sha256}.mp4`)
    const openHandles = () => readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === path
      } catch {
        return false // closed while we looked
      }
    }).length
    const abort = new AbortController()
    const res = await fetch(stored.url, { signal: abort.signal })
    const reader = res.body!.getReader()
    await reader.read()
    expect(openHandles()).toBe(1)
    abort.abort()
    await waitFor('the blob file to be closed', () => openHandles() === 0, 5_000, 20)
  })

  it('answers 304 to a matching If-None-Match', async () => {
    const res = await fetch(blob.url, { headers: { 'If-None-Match': `"${sha}"` } })
    expect(res.status).toBe(304)
  })

  it('404s unknown hashes (with CORS), prefixes of a stored hash, and anything that is not a hash', async () => {
    const unknown = await fetch(`${base}/${'0'.repeat(64)}.mp4`)
    expect(unknown.status).toBe(404)
    expect(unknown.headers.get('access-control-allow-origin')).toBe('*')
    for (const path of [`/${sha.slice(0, 63)}`, `/${sha.slice(0, 8)}`, `/${sha.toUpperCase()}`, `/${sha}/x`, '/', '/list/abc', `/${sha}.mp4.`]) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(404)
    }
  })

  it('refuses traversal, plain or encoded, and never follows a symlink', async () => {
    const raw = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: http.port, path, method: 'GET' }, (res) => {
          res.resume()
          resolve(res.statusCode ?? 0)
        })
        req.on('error', reject)
        req.end()
      })
    for (const path of ['/../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', `/..%2f${sha}`, `/blobs/${sha}.mp4`, `/${sha}%2f..%2f..`]) expect(await raw(path), path).toBe(404)
    // A symlink planted in the store under a hash name is not served.
    const fake = 'f'.repeat(64)
    await symlink('/etc/passwd', join(dir, 'blobs', `${fake}.mp4`))
    const again = await createBlossom({ dir: join(dir, 'blobs'), publicUrl: () => base })
    const server = await listenHttp([again.handle], 0)
    try {
      expect((await fetch(`http://127.0.0.1:${server.port}/${fake}`)).status).toBe(404)
      // …while what was stored before the restart is still there.
      expect((await fetch(`http://127.0.0.1:${server.port}/${sha}`)).status).toBe(200)
    } finally {
      await server.close()
    }
  })

  it('answers CORS preflight and refuses uploads and deletions', async () => {
    const pre = await fetch(blob.url, { method: 'OPTIONS' })
    expect(pre.status).toBe(204)
    expect(pre.headers.get('access-control-allow-origin')).toBe('*')
    expect(pre.headers.get('access-control-allow-methods')).toContain('GET')
    expect((await fetch(blob.url, { method: 'DELETE' })).status).toBe(405)
    expect((await fetch(`${base}/upload`, { method: 'PUT', body: 'x' })).status).toBe(404)
  })
})

describe('parseRange', () => {
  it('examples', () => {
    expect(parseRange(undefined, 10)).toBeUndefined()
    expect(parseRange('bytes=0-0', 10)).toEqual({ start: 0, end: 0 })
    expect(parseRange('bytes=-0', 10)).toBe('unsatisfiable')
    expect(parseRange('bytes=0-', 0)).toBe('unsatisfiable')
    expect(parseRange('bytes=5-2', 10)).toBeUndefined()
    expect(parseRange('items=0-1', 10)).toBeUndefined()
    expect(parseRange('bytes=-', 10)).toBeUndefined()
  })

  it('invariant: a satisfiable range lies inside the blob and is never empty', () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.option(fc.nat(20_000)), fc.option(fc.nat(20_000)), (size, a, b) => {
        const header = `bytes=${a ?? ''}-${b ?? ''}`
        const r = parseRange(header, size)
        if (r === undefined || r === 'unsatisfiable') return
        expect(r.start).toBeGreaterThanOrEqual(0)
        expect(r.end).toBeLessThan(size)
        expect(r.start).toBeLessThanOrEqual(r.end)
        if (a !== null) expect(r.start).toBe(a)
      }),
      { numRuns: 1000 },
    )
  })
})
