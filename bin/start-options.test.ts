import { describe, expect, it } from 'vitest'
import { formatBanner } from './banner.ts'
import { StartOptionError, getPartsEnv, parseStartOptions } from './start-options.ts'

describe('relaycast start options', () => {
  it('takes --public, --base-url and --no-app out of argv and leaves the rest in order', () => {
    const o = parseStartOptions({}, ['--port', '0', '--public', '--base-url', 'https://live.example.com/', '--no-app', '--rtmp-port=5'])
    expect(o).toEqual({ public: true, baseUrl: 'https://live.example.com', noApp: true, rest: ['--port', '0', '--rtmp-port=5'] })
    expect(parseStartOptions({ RELAYCAST_PUBLIC: 'true', RELAYCAST_BASE_URL: 'http://h:8080' }, [])).toMatchObject({ public: true, baseUrl: 'http://h:8080' })
  })

  it('refuses a base URL that is not an http(s) origin', () => {
    expect(() => parseStartOptions({}, ['--base-url', 'ftp://x'])).toThrow(StartOptionError)
    expect(() => parseStartOptions({}, ['--base-url', 'https://x/app'])).toThrow(/without a path/)
    expect(() => parseStartOptions({}, ['--base-url'])).toThrow(/needs a value/)
  })

  it('binds every listener to loopback by default and to all interfaces with --public', () => {
    const loop = getPartsEnv({}, { public: false, baseUrl: undefined }, { port: 1935, app: 'live' })
    expect([loop.RELAYCAST_RELAY_HOST, loop.RELAYCAST_HTTP_HOST, loop.RELAYCAST_RTMP_HOST]).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.1'])
    const pub = getPartsEnv({}, { public: true, baseUrl: undefined }, { port: 1935, app: 'live' })
    expect([pub.RELAYCAST_RELAY_HOST, pub.RELAYCAST_HTTP_HOST, pub.RELAYCAST_RTMP_HOST]).toEqual(['0.0.0.0', '0.0.0.0', '0.0.0.0'])
  })

  it('names 127.0.0.1 (not localhost) in the OBS and HLS URLs on loopback, once the ports are known', () => {
    const e = getPartsEnv({}, { public: false, baseUrl: undefined }, { port: 1935, app: 'live' }, 8088)
    expect(e.RELAYCAST_INGEST_URL).toBe('rtmp://127.0.0.1:1935/live')
    expect(e.RELAYCAST_PUBLIC_URL).toBe('http://127.0.0.1:8088')
    const anyPort = getPartsEnv({}, { public: false, baseUrl: undefined }, { port: 0, app: 'live' }, 0)
    expect([anyPort.RELAYCAST_INGEST_URL, anyPort.RELAYCAST_PUBLIC_URL]).toEqual([undefined, undefined])
    expect(getPartsEnv({}, { public: true, baseUrl: undefined }, { port: 1935, app: 'live' }, 8088).RELAYCAST_INGEST_URL).toBeUndefined()
  })

  it('derives wss://, the HLS base and the RTMP URL from the base URL, never over what the operator set', () => {
    const e = getPartsEnv({ RELAYCAST_RTMP_HOST: '10.0.0.5' }, { public: false, baseUrl: 'https://live.example.com' }, { port: 1935, app: 'live' })
    expect(e.RELAYCAST_RELAY_URL).toBe('wss://live.example.com')
    expect(e.RELAYCAST_PUBLIC_URL).toBe('https://live.example.com')
    expect(e.RELAYCAST_INGEST_URL).toBe('rtmp://live.example.com:1935/live')
    expect(e.RELAYCAST_RTMP_HOST).toBe('10.0.0.5')
    const mine = getPartsEnv({ RELAYCAST_INGEST_URL: 'rtmp://other/live' }, { public: false, baseUrl: 'http://h:8080' }, { port: 0, app: 'live' })
    expect(mine.RELAYCAST_RELAY_URL).toBe('ws://h:8080')
    expect(mine.RELAYCAST_INGEST_URL).toBe('rtmp://other/live')
  })

  it('prints every address and both npubs in one block', () => {
    const text = formatBanner({ appUrl: 'http://127.0.0.1:7777/', relayUrl: 'ws://127.0.0.1:7777', rtmpUrl: 'rtmp://localhost:1935/live', hlsUrl: 'http://localhost:8088/hls/', relayNpub: 'npub1relay', transcoderNpub: 'npub1dvm', dataDir: '/d', loopback: true })
    for (const s of ['http://127.0.0.1:7777/', 'ws://127.0.0.1:7777', 'rtmp://localhost:1935/live', 'npub1relay', 'npub1dvm', 'Next:', 'Ctrl-C']) expect(text).toContain(s)
    expect(text.split('\n').length).toBeLessThanOrEqual(14)
  })
})
