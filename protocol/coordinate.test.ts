import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  CoordinateError,
  decodeNaddr,
  encodeNaddr,
  formatCoordinate,
  getCoordinate,
  getEventCoordinate,
  getNaddr,
  parseCoordinate,
} from './coordinate.ts'
import type { Coordinate } from './coordinate.ts'
import { COORD, D_TAG, STREAMER, liveEvent, presence, chatMessage } from '../test/fixtures/events.ts'

const hex64 = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 })
const identifier = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.constant(''), fc.constant('a:b:c'))
const arbCoordinate: fc.Arbitrary<Coordinate> = fc.record({ kind: fc.integer({ min: 0, max: 65535 }), pubkey: hex64, identifier })

describe('coordinates', () => {
  it('invariant: parseCoordinate(formatCoordinate(c)) equals c, colons in the identifier included', () => {
    fc.assert(
      fc.property(arbCoordinate, (c) => {
        expect(parseCoordinate(formatCoordinate(c))).toEqual(c)
      }),
      { numRuns: 1000 },
    )
  })

  it('reads the fixture coordinate', () => {
    expect(parseCoordinate(COORD)).toEqual({ kind: 30311, pubkey: STREAMER, identifier: D_TAG })
  })

  it('refuses malformed coordinates with a specific reason', () => {
    expect(() => parseCoordinate('30311')).toThrow(/not kind:pubkey:identifier/)
    expect(() => parseCoordinate(`30311:${STREAMER}`)).toThrow(/not kind:pubkey:identifier/)
    expect(() => parseCoordinate(`x:${STREAMER}:d`)).toThrow(/kind "x" is not an integer/)
    expect(() => parseCoordinate(`70000:${STREAMER}:d`)).toThrow(/kind "70000"/)
    expect(() => parseCoordinate(`030311:${STREAMER}:d`)).toThrow(/kind/)
    expect(() => parseCoordinate(`30311:${STREAMER.toUpperCase()}:d`)).toThrow(/pubkey .* lowercase hex/)
    expect(() => parseCoordinate('30311:abc:d')).toThrow(CoordinateError)
  })

  it('getCoordinate never throws and answers undefined for garbage', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const c = getCoordinate(s)
        if (c !== undefined) expect(formatCoordinate(c)).toBe(s)
      }),
      { numRuns: 1000 },
    )
    expect(getCoordinate('nonsense')).toBeUndefined()
  })

  it('getEventCoordinate addresses addressable and replaceable events only', () => {
    expect(getEventCoordinate(liveEvent)).toEqual({ kind: 30311, pubkey: STREAMER, identifier: D_TAG })
    expect(getEventCoordinate(presence)).toEqual({ kind: 10312, pubkey: presence.pubkey, identifier: '' })
    expect(getEventCoordinate(chatMessage)).toBeUndefined()
  })
})

describe('naddr', () => {
  const relayHint = fc.webUrl().map((u) => u.replace(/^https?/, 'wss')).filter((u) => u.length <= 255)

  it('invariant: decodeNaddr(encodeNaddr(c, relays)) gives back c and the relay hints', () => {
    const shortIdentifier = identifier.filter((s) => new TextEncoder().encode(s).length <= 255)
    fc.assert(
      fc.property(
        fc.record({ kind: fc.integer({ min: 0, max: 65535 }), pubkey: hex64, identifier: shortIdentifier }),
        fc.array(relayHint, { maxLength: 3 }),
        (c, relays) => {
          const code = encodeNaddr(c, relays)
          expect(code.startsWith('naddr1')).toBe(true)
          expect(decodeNaddr(code)).toEqual({ coordinate: c, relays })
        },
      ),
      { numRuns: 1000 },
    )
  })

  it('accepts a nostr: URI', () => {
    const code = encodeNaddr(parseCoordinate(COORD), ['wss://relay.relaycast.test'])
    expect(decodeNaddr(`nostr:${code}`).coordinate).toEqual(parseCoordinate(COORD))
  })

  it('refuses what an naddr cannot carry instead of corrupting it', () => {
    const c = parseCoordinate(COORD)
    expect(() => encodeNaddr({ ...c, identifier: 'é'.repeat(128) })).toThrow(/longer than 255 bytes/)
    expect(() => encodeNaddr(c, [`wss://${'r'.repeat(260)}.test`])).toThrow(/relay hint/)
    expect(() => encodeNaddr({ ...c, pubkey: 'zz' })).toThrow(CoordinateError)
  })

  it('refuses other NIP-19 codes and garbage with CoordinateError', () => {
    expect(() => decodeNaddr('npub180cvv07tjdrrgpa0j7j7tmnyl2yr6yr7l8j4s3evf6u64th6gkwsyjh6w6')).toThrow(/not an naddr/)
    expect(() => decodeNaddr('naddr1qqqqq')).toThrow(CoordinateError)
    expect(getNaddr('naddr1qqqqq')).toBeUndefined()
  })
})
