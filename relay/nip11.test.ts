import { describe, expect, it } from 'vitest'
import { loadConfig } from './config.ts'
import { createLiveExtensions } from './live.ts'
import { createNegentropyExtension } from './negentropy.ts'
import { buildRelayInfo } from './nip11.ts'
import { startTestRelay } from './test-harness.ts'

const SELF = 'f'.repeat(64)

describe('NIP-11 supported_nips follows what is enabled', () => {
  const config = loadConfig({}, [])

  it('the core alone: no 53, no 77', () => {
    expect(buildRelayInfo(config, SELF, []).supported_nips).toEqual([1, 9, 11, 40, 42, 45, 70])
  })

  it('each extension adds its NIP: 53 with live-now, 77 with negentropy', () => {
    expect(buildRelayInfo(config, SELF, createLiveExtensions(config)).supported_nips).toEqual([1, 9, 11, 40, 42, 45, 53, 70])
    expect(buildRelayInfo(config, SELF, [createNegentropyExtension(config)]).supported_nips).toEqual([1, 9, 11, 40, 42, 45, 70, 77])
  })

  it('served over HTTP: a relay started without negentropy does not advertise 77', async () => {
    const t = await startTestRelay({}, { extensions: createLiveExtensions(loadConfig({}, [])) })
    try {
      const res = await fetch(`http://127.0.0.1:${t.port}/`, { headers: { accept: 'application/nostr+json' } })
      const info = (await res.json()) as { supported_nips: number[] }
      expect(info.supported_nips).toContain(53)
      expect(info.supported_nips).not.toContain(77)
    } finally {
      await t.stop()
    }
  })
})
