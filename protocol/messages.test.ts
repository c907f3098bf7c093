import { bytesToHex } from '@noble/hashes/utils.js'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ID_POOL, arbEvent, arbFilter } from '../test/arbitraries.ts'
import { FilterError } from './filter.ts'
import { DEFAULT_LIMITS, getUtf8Length, isWithinByteLimit } from './limits.ts'
import type { Limits } from './limits.ts'
import {
  MessageError,
  parseClientMessage,
  parseRelayMessage,
  serializeClientMessage,
  serializeEventMessage,
  serializeRelayMessage,
} from './messages.ts'
import type { ClientMessage, ClientVerb, RelayMessage, RelayVerb } from './messages.ts'

const RUNS = { numRuns: 1000 }
const SUB_ID_UNITS = fc.constantFrom('a', 'Z', '0', ' ', '"', '\\', '\n', 'é', '€', '😀', '\u0000', '\ud800')
/** Sub ids up to 64 UTF-16 units, with quotes, escapes, multi-byte and lone surrogates. */
const arbSubId = fc
  .string({ unit: SUB_ID_UNITS, minLength: 1, maxLength: 32 })
  .map((s) => s.slice(0, DEFAULT_LIMITS.maxSubIdLength))
const arbHexMessage = fc.uint8Array({ minLength: 1, maxLength: 64 }).map(bytesToHex)
const arbFilters = fc.array(arbFilter(), { minLength: 1, maxLength: DEFAULT_LIMITS.maxFiltersPerReq })
const arbText = fc.oneof(fc.string(), fc.string({ unit: 'binary', maxLength: 40 }))

const arbClientMessages: Record<ClientVerb, fc.Arbitrary<ClientMessage>> = {
  EVENT: arbEvent().map((e) => ['EVENT', e]),
  REQ: fc.tuple(arbSubId, arbFilters).map(([id, fs]) => ['REQ', id, ...fs]),
  CLOSE: arbSubId.map((id) => ['CLOSE', id]),
  AUTH: arbEvent().map((e) => ['AUTH', e]),
  COUNT: fc.tuple(arbSubId, arbFilters).map(([id, fs]) => ['COUNT', id, ...fs]),
  'NEG-OPEN': fc.tuple(arbSubId, arbFilter(), arbHexMessage).map(([id, f, hex]) => ['NEG-OPEN', id, f, hex]),
  'NEG-MSG': fc.tuple(arbSubId, arbHexMessage).map(([id, hex]) => ['NEG-MSG', id, hex]),
  'NEG-CLOSE': arbSubId.map((id) => ['NEG-CLOSE', id]),
}
const arbClientMessage = fc.oneof(...Object.values(arbClientMessages))

const arbRelayMessages: Record<RelayVerb, fc.Arbitrary<RelayMessage>> = {
  EVENT: fc.tuple(arbSubId, arbEvent()).map(([id, e]) => ['EVENT', id, e]),
  OK: fc.tuple(fc.constantFrom(...ID_POOL), fc.boolean(), arbText).map(([id, ok, m]) => ['OK', id, ok, m]),
  EOSE: arbSubId.map((id) => ['EOSE', id]),
  CLOSED: fc.tuple(arbSubId, arbText).map(([id, m]) => ['CLOSED', id, m]),
  NOTICE: arbText.map((m) => ['NOTICE', m]),
  AUTH: arbText.map((challenge) => ['AUTH', challenge]),
  COUNT: fc
    .tuple(arbSubId, fc.record({ count: fc.nat(), approximate: fc.boolean(), hll: arbHexMessage }, { requiredKeys: ['count'] }))
    .map(([id, result]) => ['COUNT', id, result]),
  'NEG-MSG': fc.tuple(arbSubId, arbHexMessage).map(([id, hex]) => ['NEG-MSG', id, hex]),
  'NEG-ERR': fc.tuple(arbSubId, arbText).map(([id, m]) => ['NEG-ERR', id, m]),
}
const arbRelayMessage = fc.oneof(...Object.values(arbRelayMessages))

/** Strings of raw UTF-16 units: lone surrogates included, which fc.string never makes. */
const arbCodeUnits = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) })

/** Text a hostile or buggy peer could send: junk, JSON of any shape, known verbs with odd arguments, cut messages. */
function arbJunk(valid: fc.Arbitrary<unknown[]>, verbs: readonly string[]): fc.Arbitrary<string> {
  const filterKeys = ['ids', 'authors', 'kinds', 'since', 'until', 'limit', 'search', '#e', '#status', '#xy', 'foo']
  const arbOddFilter = fc.dictionary(fc.constantFrom(...filterKeys), fc.jsonValue(), { maxKeys: 3 })
  return fc.oneof(
    fc.string({ unit: 'binary' }),
    arbCodeUnits,
    fc.json(),
    fc
      .tuple(fc.constantFrom(...verbs, 'NOPE', ''), fc.array(fc.oneof(fc.jsonValue(), arbOddFilter, arbSubId), { maxLength: 5 }))
      .map(([verb, rest]) => JSON.stringify([verb, ...rest])),
    valid.chain((m) => {
      const text = JSON.stringify(m)
      return fc.nat({ max: text.length }).map((i) => text.slice(0, i))
    }),
  )
}

function errorOf(run: () => unknown): MessageError {
  try {
    run()
  } catch (err) {
    if (err instanceof MessageError) return err
    throw err
  }
  throw new Error('expected a MessageError, nothing was thrown')
}

const reasonOf = (text: string, limits?: Limits): string => errorOf(() => parseClientMessage(text, limits)).reason

describe('client messages', () => {
  for (const [verb, arb] of Object.entries(arbClientMessages)) {
    it(`round-trips ${verb}: parse(serialize(m)) = m`, () => {
      fc.assert(
        fc.property(arb, (m) => {
          expect(parseClientMessage(serializeClientMessage(m))).toEqual(m)
        }),
        RUNS,
      )
    })
  }

  it('never throws anything but MessageError, with an invalid: reason', () => {
    const verbs = Object.keys(arbClientMessages)
    fc.assert(
      fc.property(arbJunk(arbClientMessage, verbs), (text) => {
        try {
          const m = parseClientMessage(text)
          expect(parseClientMessage(serializeClientMessage(m))).toEqual(m)
        } catch (err) {
          expect(err).toBeInstanceOf(MessageError)
          expect((err as MessageError).reason).toMatch(/^invalid: /)
        }
      }),
      RUNS,
    )
  })

  it('accepts exactly maxMessageBytes UTF-8 bytes and refuses one more', () => {
    const wide = fc.constantFrom('a', 'é', '€', '😀') // 1, 2, 3 and 4 bytes
    fc.assert(
      fc.property(fc.string({ unit: wide, maxLength: 200 }), (padding) => {
        const text = `["EVENT","${padding}"]`
        const bytes = new TextEncoder().encode(text).length
        expect(parseClientMessage(text, { ...DEFAULT_LIMITS, maxMessageBytes: bytes })).toEqual(['EVENT', padding])
        expect(reasonOf(text, { ...DEFAULT_LIMITS, maxMessageBytes: bytes - 1 })).toBe(
          `invalid: message is larger than ${bytes - 1} bytes`,
        )
      }),
      RUNS,
    )
  })

  it('caps messages at 128 KiB by default', () => {
    // 12 bytes of envelope and 65530 two-byte characters: 131072 bytes.
    const exact = `["EVENT","${'é'.repeat(65530)}"]`
    expect(new TextEncoder().encode(exact).length).toBe(128 * 1024)
    expect(parseClientMessage(exact)[0]).toBe('EVENT')
    expect(reasonOf(`${exact} `)).toBe('invalid: message is larger than 131072 bytes')
  })

  it('accepts sub ids of exactly maxSubIdLength characters and refuses one more', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.constantFrom('CLOSE', 'REQ', 'NEG-CLOSE'), (n, verb) => {
        const limits: Limits = { ...DEFAULT_LIMITS, maxSubIdLength: n }
        const tail = verb === 'REQ' ? [{}] : []
        expect(parseClientMessage(JSON.stringify([verb, 'x'.repeat(n), ...tail]), limits)[1]).toBe('x'.repeat(n))
        const err = errorOf(() => parseClientMessage(JSON.stringify([verb, 'x'.repeat(n + 1), ...tail]), limits))
        expect(err.reason).toBe(`invalid: subscription id is longer than ${n} characters`)
        expect(err.subId).toBe('x'.repeat(n + 1))
      }),
      RUNS,
    )
    expect(parseClientMessage(JSON.stringify(['CLOSE', 's'.repeat(64)]))).toEqual(['CLOSE', 's'.repeat(64)])
    expect(reasonOf(JSON.stringify(['CLOSE', 's'.repeat(65)]))).toBe('invalid: subscription id is longer than 64 characters')
  })

  it('accepts exactly maxFiltersPerReq filters and refuses one more', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.constantFrom('REQ', 'COUNT'), (n, verb) => {
        const limits: Limits = { ...DEFAULT_LIMITS, maxFiltersPerReq: n }
        expect(parseClientMessage(JSON.stringify([verb, 's', ...Array(n).fill({})]), limits)).toHaveLength(n + 2)
        const err = errorOf(() => parseClientMessage(JSON.stringify([verb, 's', ...Array(n + 1).fill({})]), limits))
        expect(err.reason).toBe(`invalid: too many filters (${n + 1} > ${n})`)
        expect(err).toMatchObject({ verb, subId: 's' })
      }),
      RUNS,
    )
    expect(parseClientMessage(JSON.stringify(['REQ', 's', ...Array(10).fill({})]))).toHaveLength(12)
    expect(reasonOf(JSON.stringify(['REQ', 's', ...Array(11).fill({})]))).toBe('invalid: too many filters (11 > 10)')
  })

  it('accepts exactly maxValuesPerFilter values inside a REQ and refuses one more', () => {
    const ok = JSON.stringify(['REQ', 's', { kinds: Array(1000).fill(1) }])
    expect(parseClientMessage(ok)).toHaveLength(3)
    const err = errorOf(() => parseClientMessage(JSON.stringify(['REQ', 's', { kinds: Array(1001).fill(1) }])))
    expect(err.reason).toBe('invalid: too many values in kinds (1001 > 1000)')
  })

  it('clamps a REQ limit rather than refusing it', () => {
    expect(parseClientMessage('["REQ","s",{"limit":999999}]')).toEqual(['REQ', 's', { limit: DEFAULT_LIMITS.maxLimit }])
  })

  describe('says exactly what is wrong, and names what it can', () => {
    const cases: [string, string, string, object][] = [
      ['text that is not JSON', 'hello', 'invalid: message is not JSON', {}],
      ['a JSON object', '{"kinds":[1]}', 'invalid: message must be a JSON array', {}],
      ['an empty array', '[]', 'invalid: message must start with a verb string', {}],
      ['a numeric verb', '[1,"s"]', 'invalid: message must start with a verb string', {}],
      ['an unknown verb', '["SUBSCRIBE","s"]', 'invalid: unknown message type "SUBSCRIBE"', {}],
      ['a lower-case verb', '["req","s",{}]', 'invalid: unknown message type "req"', {}],
      ['a relay-only verb', '["OK","s"]', 'invalid: unknown message type "OK"', {}],
      ['EVENT without an event', '["EVENT"]', 'invalid: EVENT takes exactly one event', { verb: 'EVENT' }],
      [
        'EVENT with an extra element',
        `["EVENT",{"id":"${ID_POOL[1]}"},{}]`,
        'invalid: EVENT takes exactly one event',
        { verb: 'EVENT', eventId: ID_POOL[1] },
      ],
      ['AUTH with two events', '["AUTH",{},{}]', 'invalid: AUTH takes exactly one event', { verb: 'AUTH' }],
      ['REQ without filters', '["REQ","s"]', 'invalid: REQ needs at least one filter', { verb: 'REQ', subId: 's' }],
      ['COUNT without filters', '["COUNT","s"]', 'invalid: COUNT needs at least one filter', { verb: 'COUNT', subId: 's' }],
      ['REQ without a sub id', '["REQ"]', 'invalid: subscription id must be a string', { verb: 'REQ' }],
      ['a numeric sub id', '["REQ",1,{}]', 'invalid: subscription id must be a string', { verb: 'REQ' }],
      ['an empty sub id', '["CLOSE",""]', 'invalid: subscription id must not be empty', { verb: 'CLOSE', subId: '' }],
      ['CLOSE with a filter', '["CLOSE","s",{}]', 'invalid: CLOSE takes only a subscription id', { verb: 'CLOSE', subId: 's' }],
      ['NEG-CLOSE with more', '["NEG-CLOSE","s",1]', 'invalid: NEG-CLOSE takes only a subscription id', { verb: 'NEG-CLOSE' }],
      [
        'NEG-OPEN in the old five-element form',
        '["NEG-OPEN","n",{},32,"61"]',
        'invalid: NEG-OPEN takes a subscription id, a filter and a hex message',
        { verb: 'NEG-OPEN', subId: 'n' },
      ],
      ['NEG-OPEN with odd-length hex', '["NEG-OPEN","n",{},"616"]', 'invalid: NEG-OPEN message must be non-empty hex', { subId: 'n' }],
      ['NEG-OPEN with empty hex', '["NEG-OPEN","n",{},""]', 'invalid: NEG-OPEN message must be non-empty hex', { subId: 'n' }],
      ['NEG-OPEN with a bad filter', '["NEG-OPEN","n",{"#xy":[]},"61"]', 'invalid: unsupported tag filter "#xy" (only single letters and #status)', { verb: 'NEG-OPEN', subId: 'n' }],
      ['NEG-MSG with non-hex', '["NEG-MSG","n","zz"]', 'invalid: NEG-MSG message must be non-empty hex', { verb: 'NEG-MSG', subId: 'n' }],
      ['NEG-MSG without a message', '["NEG-MSG","n"]', 'invalid: NEG-MSG takes a subscription id and a hex message', { subId: 'n' }],
      ['a REQ with a bad filter', '["REQ","feed",{"kinds":[1]},{"ids":["ABC"]}]', 'invalid: ids must be 64-character lowercase hex', { verb: 'REQ', subId: 'feed' }],
      ['a REQ with a non-object filter', '["REQ","feed",[]]', 'invalid: filter must be a JSON object', { subId: 'feed' }],
      ['a COUNT with an unknown key', '["COUNT","c",{"foo":1}]', 'invalid: unknown filter key "foo"', { verb: 'COUNT', subId: 'c' }],
    ]
    for (const [name, text, reason, context] of cases) {
      it(`refuses ${name}`, () => {
        const err = errorOf(() => parseClientMessage(text))
        expect(err.reason).toBe(reason)
        expect(err.message).toBe(reason)
        expect(err).toMatchObject(context)
      })
    }

    it('leaves out what it does not know', () => {
      const err = errorOf(() => parseClientMessage('[1]'))
      expect([err.verb, err.subId, err.eventId]).toEqual([undefined, undefined, undefined])
      expect(errorOf(() => parseClientMessage('["EVENT",{"id":"abc"},1]')).eventId).toBeUndefined()
    })

    it('keeps the FilterError as the cause', () => {
      expect(errorOf(() => parseClientMessage('["REQ","s",{"since":-1}]')).cause).toBeInstanceOf(FilterError)
      expect(errorOf(() => parseClientMessage('{')).cause).toBeInstanceOf(SyntaxError)
    })

    it('cuts a long unknown verb', () => {
      expect(reasonOf(JSON.stringify(['V'.repeat(10_000)]))).toBe(`invalid: unknown message type "${'V'.repeat(32)}…"`)
    })
  })

  describe('names the verb, sub id and event id of a message it will not parse', () => {
    const small: Limits = { ...DEFAULT_LIMITS, maxMessageBytes: 200 }
    const big = 'x'.repeat(300)

    it('finds the event id of an oversized EVENT, wherever the key is', () => {
      const text = `[ "EVENT" , {"content":"${big}","tags":[["e","${ID_POOL[2]}"]], "id" : "${ID_POOL[3]}","kind":1}]`
      expect(errorOf(() => parseClientMessage(text, small))).toMatchObject({ verb: 'EVENT', eventId: ID_POOL[3] })
    })

    it('does not take an id-looking string in content or tags for the event id', () => {
      const inContent = `["EVENT",{"content":"{\\"id\\":\\"${ID_POOL[3]}\\"}${big}"}]`
      const inTags = `["EVENT",{"tags":[["id","${ID_POOL[3]}"]],"content":"${big}"}]`
      for (const text of [inContent, inTags]) {
        const err = errorOf(() => parseClientMessage(text, small))
        expect(err.verb).toBe('EVENT')
        expect(err.eventId).toBeUndefined()
      }
    })

    it('finds the sub id of an oversized REQ, escapes decoded', () => {
      const text = `["REQ","feed\\"1\\u00e9",{"search":"${big}"}]`
      expect(errorOf(() => parseClientMessage(text, small))).toMatchObject({ verb: 'REQ', subId: 'feed"1é' })
    })

    it('finds the sub id of a REQ cut short', () => {
      expect(errorOf(() => parseClientMessage('["REQ","live",{"kinds":[303'))).toMatchObject({
        reason: 'invalid: message is not JSON',
        verb: 'REQ',
        subId: 'live',
      })
    })

    it('names no sub id when its escape is broken', () => {
      const err = errorOf(() => parseClientMessage('["REQ","a\\x",{}]'))
      expect(err.verb).toBe('REQ')
      expect(err.subId).toBeUndefined()
    })

    it('names nothing for an unknown verb', () => {
      const err = errorOf(() => parseClientMessage(`["BOOM","s","${big}"]`, small))
      expect([err.verb, err.subId]).toEqual([undefined, undefined])
    })
  })
})

describe('relay messages', () => {
  for (const [verb, arb] of Object.entries(arbRelayMessages)) {
    it(`round-trips ${verb}: parse(serialize(m)) = m`, () => {
      fc.assert(
        fc.property(arb, (m) => {
          expect(parseRelayMessage(serializeRelayMessage(m))).toEqual(m)
        }),
        RUNS,
      )
    })
  }

  it('serializes a stored event JSON exactly as it would serialize the event', () => {
    fc.assert(
      fc.property(arbSubId, arbEvent(), (subId, event) => {
        const text = serializeEventMessage(subId, JSON.stringify(event))
        expect(text).toBe(serializeRelayMessage(['EVENT', subId, event]))
        expect(parseRelayMessage(text)).toEqual(['EVENT', subId, event])
      }),
      RUNS,
    )
  })

  it('never throws anything but MessageError, with an invalid: reason', () => {
    const verbs = Object.keys(arbRelayMessages)
    fc.assert(
      fc.property(arbJunk(arbRelayMessage, verbs), (text) => {
        try {
          const m = parseRelayMessage(text)
          expect(parseRelayMessage(serializeRelayMessage(m))).toEqual(m)
        } catch (err) {
          expect(err).toBeInstanceOf(MessageError)
          expect((err as MessageError).reason).toMatch(/^invalid: /)
        }
      }),
      RUNS,
    )
  })

  describe('says exactly what is wrong', () => {
    const event = { id: ID_POOL[0], pubkey: ID_POOL[1], created_at: 1, kind: 1, tags: [['t', 'x']], content: '', sig: 's' }
    const cases: [string, unknown, string, object][] = [
      ['an unknown verb', ['REQ', 's', {}], 'invalid: unknown message type "REQ"', {}],
      ['EVENT without a sub id', ['EVENT', event], 'invalid: EVENT takes a subscription id and an event', { verb: 'EVENT' }],
      ['EVENT with a numeric sub id', ['EVENT', 1, event], 'invalid: EVENT subscription id must be a string', {}],
      ['EVENT with a string kind', ['EVENT', 's', { ...event, kind: '1' }], 'invalid: EVENT carries a malformed event', { subId: 's' }],
      ['EVENT with a numeric tag value', ['EVENT', 's', { ...event, tags: [['t', 1]] }], 'invalid: EVENT carries a malformed event', {}],
      ['EVENT with no sig', ['EVENT', 's', { ...event, sig: undefined }], 'invalid: EVENT carries a malformed event', {}],
      ['a three-element OK', ['OK', ID_POOL[0], true], 'invalid: OK takes an event id, a boolean and a message', { eventId: ID_POOL[0] }],
      ['OK with a string status', ['OK', ID_POOL[0], 'true', ''], 'invalid: OK status must be a boolean', { verb: 'OK' }],
      ['OK with a numeric message', ['OK', ID_POOL[0], false, 1], 'invalid: OK message must be a string', {}],
      ['EOSE with more', ['EOSE', 's', 1], 'invalid: EOSE takes a subscription id', { subId: 's' }],
      ['CLOSED without a message', ['CLOSED', 's'], 'invalid: CLOSED takes a subscription id and a message', { subId: 's' }],
      ['NOTICE without text', ['NOTICE'], 'invalid: NOTICE takes a message', { verb: 'NOTICE' }],
      ['AUTH with a number', ['AUTH', 5], 'invalid: AUTH challenge must be a string', { verb: 'AUTH' }],
      ['COUNT with a bare number', ['COUNT', 'c', 5], 'invalid: COUNT result must be an object', { subId: 'c' }],
      ['COUNT with a negative count', ['COUNT', 'c', { count: -1 }], 'invalid: COUNT count must be a non-negative integer', {}],
      ['COUNT with a string approximate', ['COUNT', 'c', { count: 1, approximate: 'yes' }], 'invalid: COUNT approximate must be a boolean', {}],
      ['COUNT with a numeric hll', ['COUNT', 'c', { count: 1, hll: 1 }], 'invalid: COUNT hll must be a string', {}],
      ['NEG-MSG with bad hex', ['NEG-MSG', 'n', 'xyz'], 'invalid: NEG-MSG message must be non-empty hex', { subId: 'n' }],
      ['NEG-ERR without a reason', ['NEG-ERR', 'n'], 'invalid: NEG-ERR takes a subscription id and a message', { subId: 'n' }],
    ]
    for (const [name, msg, reason, context] of cases) {
      it(`refuses ${name}`, () => {
        const err = errorOf(() => parseRelayMessage(JSON.stringify(msg)))
        expect(err.reason).toBe(reason)
        expect(err).toMatchObject(context)
      })
    }

    it('names nothing in relay text that is not JSON', () => {
      const err = errorOf(() => parseRelayMessage('["EOSE","s"'))
      expect(err.reason).toBe('invalid: message is not JSON')
      expect([err.verb, err.subId]).toEqual([undefined, undefined])
    })

    it('ignores COUNT fields it does not know', () => {
      expect(parseRelayMessage('["COUNT","c",{"count":3,"extra":1}]')).toEqual(['COUNT', 'c', { count: 3 }])
    })
  })
})

describe('UTF-8 length', () => {
  it('equals what TextEncoder writes, lone surrogates included', () => {
    fc.assert(
      fc.property(fc.oneof(arbCodeUnits, fc.string({ unit: 'binary' })), (s) => {
        expect(getUtf8Length(s)).toBe(new TextEncoder().encode(s).length)
      }),
      RUNS,
    )
  })

  it('isWithinByteLimit agrees with the exact length at every limit', () => {
    // Limits between length and 3 × length take the slow path; the others the length shortcut.
    const arbCase = fc
      .oneof(arbCodeUnits, fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: fc.constantFrom('a', 'é', '€', '😀', '\udc00') }))
      .chain((s) => fc.tuple(fc.constant(s), fc.nat({ max: 3 * s.length + 2 })))
    fc.assert(
      fc.property(arbCase, ([s, max]) => {
        expect(isWithinByteLimit(s, max)).toBe(getUtf8Length(s) <= max)
      }),
      RUNS,
    )
  })
})
