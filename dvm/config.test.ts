import { describe, expect, it } from 'vitest'
import { ConfigError, DEFAULT_CONFIG, getPublicUrl, loadConfig } from './config.ts'

describe('dvm config', () => {
  it('has the embedded defaults', () => {
    const c = loadConfig({}, [])
    expect(c).toEqual(DEFAULT_CONFIG)
    expect(c.relayUrl).toBe('ws://127.0.0.1:7777')
    expect(getPublicUrl(c)).toBe('http://localhost:8088')
  })

  it('overlays env then flags, and skips ingest flags', () => {
    const c = loadConfig({ RELAYCAST_HTTP_PORT: '9000', RELAYCAST_DVM_RELAY: 'ws://a:1' }, ['--relay', 'ws://b:2', '--rtmp-port', '1936', '--public-url=https://cdn.example/', '--untargeted', '--data', '/tmp/d'])
    expect(c.httpPort).toBe(9000)
    expect(c.relayUrl).toBe('ws://b:2')
    expect(c.publicUrl).toBe('https://cdn.example')
    expect(c.acceptUntargeted).toBe(true)
    expect(c.dataDir).toBe('/tmp/d')
  })

  it('refuses bad values and unknown flags, naming them', () => {
    expect(() => loadConfig({}, ['--http-port', '70000'])).toThrow(/--http-port/)
    expect(() => loadConfig({}, ['--bogus'])).toThrow(ConfigError)
    expect(() => loadConfig({ RELAYCAST_DVM_ALLOW: 'npub1xyz' }, [])).toThrow(/RELAYCAST_DVM_ALLOW/)
    expect(() => loadConfig({}, ['--relay', 'http://x'])).toThrow(/--relay/)
    // ffmpeg would write TARGETDURATION 0 below one second.
    expect(() => loadConfig({}, ['--segment-seconds', '0.5'])).toThrow(/--segment-seconds must be seconds from 1 to 10/)
    expect(loadConfig({}, ['--segment-seconds', '1.5']).segmentSeconds).toBe(1.5)
    expect(loadConfig({}, ['--allow', `${'a'.repeat(64)},${'b'.repeat(64)}`]).allowPubkeys).toHaveLength(2)
  })
})
