import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import fc from 'fast-check'
import { getEventHash as nostrToolsEventHash, verifyEvent as nostrToolsVerify } from 'nostr-tools/pure'
import { describe, expect, it } from 'vitest'
import { checkEvent, getEventHash, isNostrEvent, serializeEvent, validateEventShape } from './event.ts'
import { finalizeEvent } from './keys.ts'
import { KIND_LIVE_CHAT } from './kinds.ts'
import type { EventTemplate, NostrEvent, UnsignedEvent } from './types.ts'
import { nobleSignatureCheck } from './verify.ts'

/** Properties that sign every run, 1000 runs each, with pure-JS signing: minutes on a busy 2-core box, not seconds. */
const SIGNING = { timeout: 240_000 }

const RUNS = { numRuns: 1000 }

const hex = (bytes: number) => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map(bytesToHex)
// Well-formed text: every grapheme, plus raw ASCII so quotes, backslashes and controls get escaped.
const text = fc.oneof(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary-ascii' }))
const template: fc.Arbitrary<EventTemplate> = fc.record({
  kind: fc.integer({ min: 0, max: 65535 }),
  tags: fc.array(fc.array(text, { maxLength: 4 }), { maxLength: 5 }),
  content: text,
  created_at: fc.maxSafeNat(),
})
const unsigned: fc.Arbitrary<UnsignedEvent> = fc.tuple(template, hex(32)).map(([t, pubkey]) => ({ ...t, pubkey }))
/** Right shape, random id and sig: enough for everything but the cryptographic checks. */
const shaped: fc.Arbitrary<NostrEvent> = fc.tuple(unsigned, hex(32), hex(64)).map(([u, id, sig]) => ({ ...u, id, sig }))
/** A random valid secret key: sha256 of anything is one, but for a 2^-128 chance. */
const secretKey = fc.uint8Array({ minLength: 1, maxLength: 32 }).map((seed) => sha256(seed))

const FIELDS = ['id', 'pubkey', 'created_at', 'kind', 'tags', 'content', 'sig'] as const
type Field = (typeof FIELDS)[number]

const notString = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }), fc.object({ maxDepth: 1 }))
const badHex = (chars: number) =>
  fc.oneof(
    hex(chars / 2).map((h) => h.toUpperCase().replace(/^[0-9]/, 'A')), // upper case
    hex(chars / 2).map((h) => h.slice(1)), // one short
    hex(chars / 2).map((h) => h + '0'), // one long
    hex(chars / 2).map((h) => 'g' + h.slice(1)), // not hex
    fc.constant(''),
    notString,
  )
const badInteger = (max: number) =>
  fc.oneof(
    fc.integer({ max: -1 }),
    fc.double({ noInteger: true }),
    fc.constant(max + 1),
    fc.constant(Number.MAX_VALUE),
    fc.nat({ max: 65535 }).map(String),
    fc.constantFrom(null, true, [1], {}),
  )
const LONE_SURROGATES = ['\uD800', 'a\uDFFFb', '\uDBFF'] as const
const badTags = fc.oneof(
  notString.filter((x) => !Array.isArray(x)),
  fc.constant([['ok'], 'not-an-array']),
  fc.constant([['e', 1]]),
  fc.constant([['p', null]]),
  fc.constant([['t', ['nested']]]),
  fc.constantFrom(...LONE_SURROGATES).map((s) => [['t', s]]),
)
const badContent = fc.oneof(notString, fc.constantFrom(...LONE_SURROGATES))

const BAD_VALUES: Record<Field, fc.Arbitrary<unknown>> = {
  id: badHex(64),
  pubkey: badHex(64),
  sig: badHex(128),
  created_at: badInteger(Number.MAX_SAFE_INTEGER),
  kind: badInteger(65535),
  tags: badTags,
  content: badContent,
}

describe('serializeEvent and getEventHash', () => {
  it('serialization is the NIP-01 array [0,pubkey,created_at,kind,tags,content]', () => {
    fc.assert(
      fc.property(unsigned, (e) => {
        expect(JSON.parse(serializeEvent(e))).toEqual([0, e.pubkey, e.created_at, e.kind, e.tags, e.content])
      }),
      RUNS,
    )
  })

  it('ids agree with nostr-tools for arbitrary content, tags and escapes', () => {
    fc.assert(
      fc.property(unsigned, (e) => {
        const id = getEventHash(e)
        expect(id).toMatch(/^[0-9a-f]{64}$/)
        expect(id).toBe(nostrToolsEventHash(e))
      }),
      RUNS,
    )
  })

  it('a known event has its known id (checked with sha256sum)', () => {
    const e = { pubkey: 'a'.repeat(64), created_at: 1, kind: 1, tags: [['t', 'x']], content: 'é"\n' }
    expect(serializeEvent(e)).toBe(`[0,"${'a'.repeat(64)}",1,1,[["t","x"]],"é\\"\\n"]`)
    expect(getEventHash(e)).toBe('3567d54ca6b74bae486ffacd7addf39509d98666cb59b92915e829484a04c8ac')
  })
})

describe('validateEventShape', () => {
  it('never throws on an arbitrary JSON value, and answers undefined or an invalid: reason', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (x) => {
        const reason = validateEventShape(x)
        expect(reason === undefined || reason.startsWith('invalid: ')).toBe(true)
        expect(isNostrEvent(x)).toBe(reason === undefined)
      }),
      RUNS,
    )
  })

  it('never throws when any field of an event holds an arbitrary JSON value', () => {
    fc.assert(
      fc.property(shaped, fc.constantFrom(...FIELDS), fc.jsonValue(), (e, field, value) => {
        const reason = validateEventShape({ ...e, [field]: value })
        expect(reason === undefined || reason.startsWith('invalid: ')).toBe(true)
      }),
      RUNS,
    )
  })

  it('every well-shaped event passes, also after a JSON round trip', () => {
    fc.assert(
      fc.property(shaped, (e) => {
        expect(validateEventShape(e)).toBeUndefined()
        expect(validateEventShape(JSON.parse(JSON.stringify(e)))).toBeUndefined()
        expect(isNostrEvent(e)).toBe(true)
      }),
      RUNS,
    )
  })

  it('every single-field corruption is rejected with an invalid: reason naming that field', () => {
    const corruption = fc.constantFrom(...FIELDS).chain((field) => fc.tuple(fc.constant(field), BAD_VALUES[field]))
    fc.assert(
      fc.property(shaped, corruption, (e, [field, value]) => {
        const reason = validateEventShape({ ...e, [field]: value })
        expect(reason).toMatch(/^invalid: /)
        expect(reason).toContain(field)
      }),
      RUNS,
    )
  })

  it('a missing field is rejected', () => {
    fc.assert(
      fc.property(shaped, fc.constantFrom(...FIELDS), (e, field) => {
        const copy: Record<string, unknown> = { ...e }
        delete copy[field]
        expect(validateEventShape(copy)).toContain(field)
      }),
      RUNS,
    )
  })

  it('a field the id does not cover is rejected', () => {
    fc.assert(
      fc.property(shaped, fc.string({ minLength: 1 }).filter((k) => !(FIELDS as readonly string[]).includes(k)), (e, key) => {
        expect(validateEventShape(JSON.parse(JSON.stringify({ ...e, [key]: 1 })))).toBe(`invalid: unknown field ${JSON.stringify(key)}`)
      }),
      RUNS,
    )
  })

  it('gives specific reasons', () => {
    const e = fc.sample(shaped, { numRuns: 1, seed: 1 })[0]
    const tags = [['a'], ['b'], ['c'], ['d', 5]]
    expect(validateEventShape({ ...e, id: e.id.toUpperCase() })).toBe('invalid: id must be 64 lowercase hex characters')
    expect(validateEventShape({ ...e, tags })).toBe('invalid: tags[3] must be an array of strings')
    expect(validateEventShape({ ...e, tags: {} })).toBe('invalid: tags must be an array of arrays of strings')
    expect(validateEventShape({ ...e, kind: 65536 })).toBe('invalid: kind must be an integer between 0 and 65535')
    expect(validateEventShape({ ...e, created_at: -1 })).toBe('invalid: created_at must be a non-negative safe integer')
    expect(validateEventShape({ ...e, content: 5 })).toBe('invalid: content must be a string')
    expect(validateEventShape({ ...e, sig: e.sig.slice(2) })).toBe('invalid: sig must be 128 lowercase hex characters')
    expect(validateEventShape({ ...e, pubkey: 5 })).toBe('invalid: pubkey must be 64 lowercase hex characters')
    expect(validateEventShape([e])).toBe('invalid: event must be a JSON object')
    expect(validateEventShape(null)).toBe('invalid: event must be a JSON object')
    expect(validateEventShape(JSON.parse(`{"__proto__":{},"id":"${e.id}"}`))).toBe('invalid: unknown field "__proto__"')
  })
})

describe('checkEvent', SIGNING, () => {
  const sign = (t: EventTemplate, sk: Uint8Array) => finalizeEvent(t, sk)

  it('finalizeEvent then checkEvent round-trips, and nostr-tools agrees', () => {
    fc.assert(
      fc.property(template, secretKey, (t, sk) => {
        const e = sign(t, sk)
        expect(checkEvent(e, nobleSignatureCheck)).toBeUndefined()
        expect(nostrToolsVerify({ ...e })).toBe(true)
      }),
      RUNS,
    )
  })

  it('content, tags, kind, created_at or pubkey changed after signing: the id no longer matches', () => {
    const change = fc.constantFrom<(e: NostrEvent) => NostrEvent>(
      (e) => ({ ...e, content: e.content + ' ' }),
      (e) => ({ ...e, tags: [...e.tags, ['t', 'x']] }),
      (e) => ({ ...e, kind: e.kind === 0 ? 1 : e.kind - 1 }),
      (e) => ({ ...e, created_at: e.created_at + 1 }),
      (e) => ({ ...e, pubkey: e.pubkey.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')) }),
    )
    fc.assert(
      fc.property(template, secretKey, change, (t, sk, f) => {
        const e = f(sign({ ...t, created_at: Math.min(t.created_at, 2 ** 40) }, sk))
        expect(checkEvent(e, nobleSignatureCheck)).toBe('invalid: event id does not match its content')
      }),
      RUNS,
    )
  })

  it('a signature that is not for this id is a bad signature', () => {
    fc.assert(
      fc.property(template, secretKey, hex(64), (t, sk, otherSig) => {
        const e = sign(t, sk)
        const fromElsewhere = sign({ ...t, content: t.content + '!' }, sk).sig
        expect(checkEvent({ ...e, sig: fromElsewhere }, nobleSignatureCheck)).toBe('invalid: bad signature')
        expect(checkEvent({ ...e, sig: otherSig }, nobleSignatureCheck)).toBe('invalid: bad signature')
      }),
      RUNS,
    )
  })

  it('uses the injected check and hasher', () => {
    const e = sign({ kind: KIND_LIVE_CHAT, tags: [], content: 'hi', created_at: 1 }, sha256(new Uint8Array([1])))
    expect(checkEvent(e, () => false)).toBe('invalid: bad signature')
    expect(checkEvent({ ...e, sig: '0'.repeat(128) }, () => true)).toBeUndefined()
    expect(checkEvent(e, () => true, () => '0'.repeat(64))).toBe('invalid: event id does not match its content')
  })
})
