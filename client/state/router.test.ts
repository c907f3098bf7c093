import { describe, expect, it } from 'vitest'
import { encodeNaddr } from '../../protocol/coordinate.ts'
import { createRouter, parseRoute } from './router.ts'

const PK = 'a'.repeat(64)

describe('router', () => {
  it('maps paths to routes, watch pages by their naddr', () => {
    expect(parseRoute('/')).toEqual({ name: 'discover' })
    expect(parseRoute('/go-live/')).toEqual({ name: 'go-live' })
    expect(parseRoute('/settings')).toEqual({ name: 'settings' })
    const naddr = encodeNaddr({ kind: 30311, pubkey: PK, identifier: 'show' }, ['ws://127.0.0.1:7777'])
    const r = parseRoute(`/${naddr}`)
    expect(r.name).toBe('watch')
    if (r.name !== 'watch') return
    expect(r.target.coordinate).toEqual({ kind: 30311, pubkey: PK, identifier: 'show' })
    expect(r.target.relays).toEqual(['ws://127.0.0.1:7777'])
  })

  it('does not treat other kinds or garbage as a stream', () => {
    expect(parseRoute(`/${encodeNaddr({ kind: 30023, pubkey: PK, identifier: 'x' })}`).name).toBe('not-found')
    expect(parseRoute('/naddr1garbage').name).toBe('not-found')
    expect(parseRoute('/nope')).toEqual({ name: 'not-found', path: '/nope' })
  })

  it('navigates through history and updates the route', () => {
    const pushed: string[] = []
    const router = createRouter('/', { pushState: (_d, _u, url) => void pushed.push(url), replaceState: () => undefined })
    router.navigate('/settings')
    router.navigate('/settings')
    expect(router.route.value).toEqual({ name: 'settings' })
    expect(pushed).toEqual(['/settings'])
  })
})
