import { describe, expect, it } from 'vitest'
import { DEFAULT_LIMITS } from '../protocol/limits.ts'
import { ConfigError, DEFAULT_CONFIG, OPTIONS, getConfigHelp, loadConfig } from './config.ts'

describe('loadConfig', () => {
  it('gives the documented defaults with no env and no flags', () => {
    const c = loadConfig({}, [])
    expect(c).toEqual(DEFAULT_CONFIG)
    expect(c).toMatchObject({ port: 7777, host: '127.0.0.1', dataDir: './data', freshnessSeconds: 3600, authRequiredForWrites: false })
    expect(c.allowedKinds).toBeUndefined()
    expect(c.limits).toEqual(DEFAULT_LIMITS)
  })

  it('overlays the environment, then flags (both spellings)', () => {
    const env = { RELAYCAST_RELAY_PORT: '8000', RELAYCAST_DATA: '/var/lib/rc', RELAYCAST_RELAY_HOST: '0.0.0.0' }
    const c = loadConfig(env, ['--port=9000', '--host', '::1', '--auth-required', '--allowed-kinds', '1,1311, 30311'])
    expect(c).toMatchObject({ port: 9000, host: '::1', dataDir: '/var/lib/rc', authRequiredForWrites: true, allowedKinds: [1, 1311, 30311] })
  })

  it('reads limits and booleans from the environment', () => {
    const c = loadConfig({ RELAYCAST_RELAY_MAX_SUBSCRIPTIONS: '5', RELAYCAST_RELAY_TRUST_PROXY: 'yes', RELAYCAST_RELAY_MAX_LIMIT: '100' }, [])
    expect(c.limits.maxSubscriptions).toBe(5)
    expect(c.limits.maxLimit).toBe(100)
    expect(c.limits.defaultLimit).toBe(100) // never above the max
    expect(c.trustProxy).toBe(true)
    expect(DEFAULT_CONFIG.limits.maxSubscriptions).toBe(DEFAULT_LIMITS.maxSubscriptions) // defaults untouched
  })

  it('port 0 is allowed (any free port)', () => {
    expect(loadConfig({}, ['--port', '0']).port).toBe(0)
  })

  it.each([
    [{}, ['--port', 'abc'], /--port must be an integer/],
    [{ RELAYCAST_RELAY_PORT: '-1' }, [], /RELAYCAST_RELAY_PORT must be an integer/],
    [{}, ['--nope'], /unknown option "--nope"/],
    [{}, ['--port'], /--port needs a value/],
    [{}, ['--public-url', 'http://x'], /--public-url must be a ws/],
    [{}, ['--allowed-kinds', '1,70000'], /out of range/],
    [{}, ['--operator', 'npub1xyz'], /--operator must be a 64-character/],
    [{ RELAYCAST_RELAY_AUTH_REQUIRED: 'maybe' }, [], /must be true or false/],
  ])('refuses bad values with a ConfigError naming the source (%o %o)', (env, argv, message) => {
    expect(() => loadConfig(env, argv)).toThrow(ConfigError)
    expect(() => loadConfig(env, argv)).toThrow(message)
  })

  it('help lists every flag and variable once', () => {
    const help = getConfigHelp()
    for (const o of OPTIONS) {
      expect(help).toContain(o.flag)
      expect(help.split(o.env).length).toBe(2)
    }
  })
})
