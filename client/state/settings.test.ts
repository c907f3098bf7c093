import { describe, expect, it } from 'vitest'
import { createMemoryStorage, createSettings, getDefaultRelay, isRelayUrl, normalizeRelayUrl } from './settings.ts'

describe('settings', () => {
  it('defaults to the relay that served the page, ws or wss by the page scheme', () => {
    expect(getDefaultRelay({ protocol: 'http:', host: '127.0.0.1:7777' })).toBe('ws://127.0.0.1:7777')
    expect(getDefaultRelay({ protocol: 'https:', host: 'live.example.org' })).toBe('wss://live.example.org')
    expect(createSettings(createMemoryStorage(), 'ws://a:1').relays.value).toEqual(['ws://a:1'])
  })

  it('saves a cleaned relay list and reads it back in a new session', () => {
    const storage = createMemoryStorage()
    const s = createSettings(storage, 'ws://a:1')
    expect(s.setRelays([' wss://relay.example.org/ ', 'wss://relay.example.org/', '', 'ws://b:2'])).toBeUndefined()
    expect(s.relays.value).toEqual(['wss://relay.example.org', 'ws://b:2'])
    expect(createSettings(storage, 'ws://a:1').relays.value).toEqual(['wss://relay.example.org', 'ws://b:2'])
    s.reset()
    expect(createSettings(storage, 'ws://a:1').relays.value).toEqual(['ws://a:1'])
  })

  it('refuses non-relay addresses in plain words and keeps the old list', () => {
    const s = createSettings(createMemoryStorage(), 'ws://a:1')
    expect(s.setRelays(['https://example.org'])).toMatch(/not a relay address/)
    expect(s.setRelays([])).toMatch(/at least one/)
    expect(s.relays.value).toEqual(['ws://a:1'])
  })

  it('ignores unreadable stored settings', () => {
    const storage = createMemoryStorage()
    storage.setItem('relaycast.relays', '{not json')
    expect(createSettings(storage, 'ws://a:1').relays.value).toEqual(['ws://a:1'])
    storage.setItem('relaycast.relays', JSON.stringify(['http://x']))
    expect(createSettings(storage, 'ws://a:1').relays.value).toEqual(['ws://a:1'])
  })

  it('knows relay URLs', () => {
    expect(isRelayUrl('wss://x.org')).toBe(true)
    expect(isRelayUrl('ws://127.0.0.1:7777/')).toBe(true)
    expect(isRelayUrl('x.org')).toBe(false)
    expect(normalizeRelayUrl('wss://x.org/')).toBe('wss://x.org')
    expect(normalizeRelayUrl('wss://x.org/path/')).toBe('wss://x.org/path/')
  })
})
