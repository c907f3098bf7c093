import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHttpHandler, isHashedAsset } from './http.ts'
import type { HttpResponse } from './socket.ts'
import { startTestRelay } from './test-harness.ts'
import type { TestRelay } from './test-harness.ts'

const bodyText = (r: HttpResponse): string => (typeof r.body === 'string' ? r.body : new TextDecoder().decode(r.body))

describe('static files', () => {
  let base: string
  let handle: ReturnType<typeof createHttpHandler>
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'relaycast-http-'))
    await mkdir(join(base, 'www', 'assets'), { recursive: true })
    await writeFile(join(base, 'www', 'index.html'), '<!doctype html>app')
    await writeFile(join(base, 'www', 'assets', 'app.js'), 'console.log(1)')
    await writeFile(join(base, 'www', 'assets', 'main-4UH6WI2I.js'), 'console.log(2)')
    await writeFile(join(base, 'secret.txt'), 'do not serve')
    await symlink(join(base, 'secret.txt'), join(base, 'www', 'leak.txt'))
    handle = createHttpHandler({ info: () => '{}', health: () => ({}), staticDir: join(base, 'www') })
  })
  afterAll(() => rm(base, { recursive: true, force: true }))

  const get = (path: string) => handle({ method: 'GET', path, headers: {} })

  it('serves files with their MIME type, and index.html for / and app routes', async () => {
    const js = await get('/assets/app.js')
    expect(js.status).toBe(200)
    expect(js.headers['content-type']).toMatch(/^text\/javascript/)
    expect(bodyText(js)).toBe('console.log(1)')
    expect(bodyText(await get('/'))).toBe('<!doctype html>app')
    expect(bodyText(await get('/watch/naddr1abc'))).toBe('<!doctype html>app')
    expect((await get('/missing.png')).status).toBe(404)
  })

  it('marks hashed build assets immutable, index.html no-cache, other files briefly cacheable', async () => {
    const hashed = await get('/assets/main-4UH6WI2I.js')
    expect(hashed.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    expect((await get('/assets/app.js')).headers['cache-control']).toBe('public, max-age=3600')
    for (const path of ['/', '/index.html', '/naddr1qqxnzd3cxqmrzv3exgmr2wfeqgsxu', '/go-live', '/settings/']) {
      const r = await get(path)
      expect(r.status).toBe(200)
      expect(r.headers['content-type']).toMatch(/^text\/html/)
      expect(r.headers['cache-control']).toBe('no-cache')
      expect(bodyText(r)).toBe('<!doctype html>app')
    }
  })

  it('recognises hashed asset names only', () => {
    expect(isHashedAsset('/x/assets/chunk-QIUESVGO.js')).toBe(true)
    expect(isHashedAsset('/x/assets/styles-L7DE54JP.css')).toBe(true)
    expect(isHashedAsset('/x/assets/app.js')).toBe(false)
    expect(isHashedAsset('/x/index.html')).toBe(false)
    expect(isHashedAsset('/x/assets/my-photo.js')).toBe(false)
  })

  it('serves the app for extension-less paths but 404s missing files with an extension', async () => {
    expect((await get('/assets/missing-ABCDEFGH.js')).status).toBe(404)
    expect(bodyText(await get('/deep/app/route'))).toBe('<!doctype html>app')
  })

  it.each(['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/leak.txt', '/..%5csecret.txt', '/%00', '/%E0%A4%A'])(
    'never serves anything outside the directory: %s',
    async (path) => {
      const r = await get(path)
      expect(r.status === 404 || r.status === 400 || bodyText(r) === '<!doctype html>app').toBe(true)
      expect(bodyText(r)).not.toContain('do not serve')
    },
  )

  it('refuses methods other than GET, HEAD and OPTIONS', async () => {
    expect((await handle({ method: 'POST', path: '/', headers: {} })).status).toBe(405)
  })
})

describe('NIP-11 and /health over HTTP', () => {
  let t: TestRelay
  let httpUrl: string
  beforeAll(async () => {
    t = await startTestRelay({ name: 'test relay', contact: 'mailto:op@example.org' })
    httpUrl = `http://127.0.0.1:${t.port}/`
  })
  afterAll(() => t.stop())

  it('answers Accept: application/nostr+json with the document and CORS', async () => {
    const res = await fetch(httpUrl, { headers: { accept: 'application/nostr+json' } })
    expect(res.status).toBe(200)
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    expect(res.headers.get('content-type')).toBe('application/nostr+json')
    const info = await res.json()
    expect(info).toMatchObject({
      name: 'test relay',
      contact: 'mailto:op@example.org',
      self: t.relay.api.pubkey,
      supported_nips: expect.arrayContaining([1, 9, 11, 40, 42, 45, 70, 77]),
      limitation: { max_subscriptions: t.config.limits.maxSubscriptions, max_message_length: t.config.limits.maxMessageBytes, auth_required: false },
    })
    expect(info.self).toMatch(/^[0-9a-f]{64}$/)
    expect(info.relaycast.status_tag_index.kinds).toEqual([30311, 31337])
  })

  it('answers a CORS preflight', async () => {
    const res = await fetch(httpUrl, { method: 'OPTIONS', headers: { origin: 'https://zap.stream', 'access-control-request-headers': 'accept' } })
    expect(res.status).toBe(204)
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    expect(res.headers.get('access-control-allow-headers')).toBe('*')
  })

  it('serves /health and a plain page for browsers', async () => {
    const health = await (await fetch(`${httpUrl}health`)).json()
    expect(health).toMatchObject({ ok: true, connections: 0, subscriptions: 0 })
    const page = await fetch(httpUrl)
    expect(page.status).toBe(200)
    expect(await page.text()).toMatch(/Nostr relay/)
  })
})
