import { describe, expect, it } from 'vitest'
import { ConfigError, DEFAULT_CONFIG, getConfigHelp, getIngestUrl, loadConfig, storeDir } from './config.ts'

describe('ingest config', () => {
  it('has defaults an operator expects: RTMP on 1935, app live, data under ./data', () => {
    expect(loadConfig({}, [])).toEqual(DEFAULT_CONFIG)
    expect(DEFAULT_CONFIG).toMatchObject({ rtmpPort: 1935, app: 'live', dataDir: './data' })
    expect(storeDir(DEFAULT_CONFIG)).toBe('data/ingest')
  })

  it('overlays the environment, then flags, and skips flags of other parts', () => {
    const c = loadConfig(
      { RELAYCAST_RTMP_PORT: '1940', RELAYCAST_DATA: '/srv/rc', RELAYCAST_RTMP_LOG: 'off' },
      ['--rtmp-port', '0', '--relay', 'ws://x', '--http-port=8088', '--ingest-url=rtmp://media.example.com/live/'],
    )
    expect(c).toMatchObject({ rtmpPort: 0, dataDir: '/srv/rc', libraryLogLevel: 'off', publicUrl: 'rtmp://media.example.com/live' })
  })

  it('names the bad flag or variable', () => {
    expect(() => loadConfig({ RELAYCAST_RTMP_PORT: 'x' }, [])).toThrow(/RELAYCAST_RTMP_PORT/)
    expect(() => loadConfig({}, ['--rtmp-port', '70000'])).toThrow(ConfigError)
    expect(() => loadConfig({}, ['--rtmp-app', 'li/ve'])).toThrow(/--rtmp-app/)
    expect(() => loadConfig({}, ['--ingest-url', 'http://x'])).toThrow(/rtmp/)
    expect(() => loadConfig({}, ['--rtmp-log', 'loud'])).toThrow(/--rtmp-log/)
    expect(() => loadConfig({}, ['--rtmp-port'])).toThrow(/needs a value/)
  })

  it('tells OBS where to connect', () => {
    expect(getIngestUrl(DEFAULT_CONFIG)).toBe('rtmp://localhost:1935/live')
    expect(getIngestUrl({ ...DEFAULT_CONFIG, rtmpPort: 0 }, 40123)).toBe('rtmp://localhost:40123/live')
    expect(getIngestUrl({ ...DEFAULT_CONFIG, publicUrl: 'rtmp://tv.example/live' })).toBe('rtmp://tv.example/live')
    expect(getConfigHelp()).toContain('RELAYCAST_RTMP_PORT')
  })
})
