import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AFTER_NUMBERS } from './query-plan.ts'
import type { IndexKey } from './index-keys.ts'
import { idKeyEncoder, readKey, writeKey } from './key-codec.ts'

const encode = (key: IndexKey): Buffer => {
  const target = Buffer.alloc(4096)
  return target.subarray(0, writeKey(key, target, 0))
}
const decode = (bytes: Buffer): IndexKey => readKey(bytes, 0, bytes.length)
const compare = (a: IndexKey, b: IndexKey): number => Buffer.compare(encode(a), encode(b))

const arbHex = fc.stringMatching(/^[0-9a-f]{64}$/)
const arbNumber = fc.oneof(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.double({ noNaN: true }), fc.constantFrom(0, -0, 1, -1, Infinity, -Infinity))
/** Strings as getKeyString passes them: well-formed, control characters included. */
const arbText = fc.oneof(
  fc.string({ unit: fc.constantFrom('\0', '\x01', '\x02', 'a', 'b', 'é', '😀', '\uffff'), maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  arbHex.map((h) => h.toUpperCase()),
  arbHex.map((h) => h.slice(1)),
)
const arbElement = fc.oneof(arbNumber, arbHex, arbText)
const arbKey = fc.array(arbElement, { maxLength: 6 })

describe('index key codec', () => {
  it('invariant: every key decodes to itself (-0 as 0)', () => {
    fc.assert(
      fc.property(arbKey, (key) => {
        expect(decode(encode(key))).toEqual(key.map((v) => (Object.is(v, -0) ? 0 : v)))
      }),
      { numRuns: 2000 },
    )
  })

  it('invariant: after an equal prefix, numbers sort by value, 64-hex strings as strings, numbers before strings', () => {
    fc.assert(
      fc.property(arbKey, arbNumber, arbNumber, arbKey, arbKey, (prefix, a, b, restA, restB) => {
        fc.pre(a !== b)
        expect(Math.sign(compare([...prefix, a, ...restA], [...prefix, b, ...restB]))).toBe(a < b ? -1 : 1)
      }),
      { numRuns: 1000 },
    )
    fc.assert(
      fc.property(arbKey, arbHex, arbHex, arbKey, arbKey, (prefix, a, b, restA, restB) => {
        fc.pre(a !== b)
        expect(Math.sign(compare([...prefix, a, ...restA], [...prefix, b, ...restB]))).toBe(a < b ? -1 : 1)
      }),
      { numRuns: 1000 },
    )
    fc.assert(
      fc.property(arbKey, arbNumber, fc.oneof(arbHex, arbText), arbKey, arbKey, (prefix, n, s, restA, restB) => {
        expect(compare([...prefix, n, ...restA], [...prefix, s, ...restB])).toBeLessThan(0)
      }),
      { numRuns: 500 },
    )
  })

  it('invariant: [prefix, prefix + AFTER_NUMBERS) holds exactly the keys that start with prefix and go on with a number', () => {
    // The store's ranges: an index value, then inv(created_at). A key of the same shape shares each
    // element or differs in it, with values chosen so that near misses are likely.
    const arbNear = fc.oneof(fc.constantFrom('a', 'ab', 'a\0', '', 'x'.repeat(64), 'a'.repeat(64), 1, 0), arbElement)
    const arbPair = fc
      .array(fc.tuple(arbNear, arbNear, fc.boolean()), { minLength: 1, maxLength: 3 })
      .map((rows) => [rows.map(([p]) => p), rows.map(([p, o, same]) => (same ? p : o))] as const)
    const normal = (v: string | number): string | number => (Object.is(v, -0) ? 0 : v)
    fc.assert(
      fc.property(arbPair, arbNumber, arbKey, ([prefix, other], n, tail) => {
        const key = encode([...other, n, ...tail])
        const inside = Buffer.compare(encode(prefix), key) <= 0 && Buffer.compare(key, encode([...prefix, AFTER_NUMBERS])) < 0
        expect(inside).toBe(other.every((v, i) => normal(v) === normal(prefix[i])))
      }),
      { numRuns: 3000 },
    )
  })

  it('writes ids and pubkeys as their 32 bytes, and short keys', () => {
    const id = 'ab'.repeat(32)
    expect(encode([id])).toEqual(Buffer.concat([Buffer.from([0x20]), Buffer.from(id, 'hex')]))
    // [a, pubkey, inv, id, seq]: 3 + 33 + 9 + 33 + 9 bytes (ordered-binary: about 150)
    expect(encode(['a', id, -1_700_000_000, id, 12345]).length).toBe(87)
    expect(encode(['t', 't', 'a\0b\x01'])).toEqual(Buffer.from([0x30, 116, 0, 0x30, 116, 0, 0x30, 97, 1, 1, 98, 1, 2, 0]))
  })

  it('refuses what it could not write exactly, and asks for a bigger buffer when short', () => {
    expect(() => encode(['lone \ud800'])).toThrow(/lone surrogate/)
    expect(() => writeKey(['x'.repeat(100)], Buffer.alloc(50), 0)).toThrow(RangeError)
    expect(() => writeKey(['ab'.repeat(32)], Buffer.alloc(40), 10)).toThrow(RangeError)
    expect(() => decode(Buffer.from([0x99]))).toThrow(/unknown element type 153/)
  })

  it('ids keys are the 32 bytes of the id', () => {
    const id = '0f'.repeat(32)
    const target = Buffer.alloc(64)
    expect(idKeyEncoder.writeKey(id, target, 4)).toBe(36)
    expect(target.subarray(4, 36)).toEqual(Buffer.from(id, 'hex'))
    expect(idKeyEncoder.readKey(target, 4, 36)).toBe(id)
    expect(() => idKeyEncoder.writeKey('F'.repeat(64), target, 0)).toThrow(/not a lowercase 64-hex id/)
  })
})
