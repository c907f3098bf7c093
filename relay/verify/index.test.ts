import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { checkEvent, getEventHash } from '../../protocol/event.ts'
import { finalizeEvent } from '../../protocol/keys.ts'
import { KIND_LIVE_CHAT } from '../../protocol/kinds.ts'
import type { EventTemplate, NostrEvent } from '../../protocol/types.ts'
import { nobleSignatureCheck } from '../../protocol/verify.ts'
import { TEST_KEY_NAMES, signAs, testPubkey } from '../../test/fixtures/keys.ts'
import { loadSignatureCheck, nodeEventHash, type BackendName, type VerifyBackend } from './index.ts'

const RUNS = { numRuns: 200 }
const NATIVE_PATH = fileURLToPath(new URL('./build/relaycast_verify.node', import.meta.url))
const BUILD_SCRIPT = fileURLToPath(new URL('../../scripts/build-native.js', import.meta.url))

const hex = (bytes: number) => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map(bytesToHex)
const secretKey = fc.uint8Array({ minLength: 1, maxLength: 32 }).map((seed) => sha256(seed))
const template: fc.Arbitrary<EventTemplate> = fc.record({
  kind: fc.constant(KIND_LIVE_CHAT),
  tags: fc.array(fc.array(fc.string({ unit: 'grapheme' }), { minLength: 1, maxLength: 4 }), { maxLength: 3 }),
  content: fc.string({ unit: 'grapheme', maxLength: 200 }),
  created_at: fc.nat(),
})
const flipDigit = (s: string, at: number) => {
  const i = at % s.length
  return s.slice(0, i) + ((parseInt(s[i], 16) + 1) % 16).toString(16) + s.slice(i + 1)
}

/** How an event may be spoiled; `same` leaves it valid. */
type Spoil = 'same' | 'sig' | 'content' | 'content+id' | 'pubkey' | 'pubkey+id' | 'garbage'
const spoil = fc.constantFrom<Spoil>('same', 'sig', 'content', 'content+id', 'pubkey', 'pubkey+id', 'garbage')
function applySpoil(e: NostrEvent, how: Spoil, at: number, otherPubkey: string): NostrEvent {
  const withId = (x: NostrEvent) => ({ ...x, id: getEventHash(x) })
  switch (how) {
    case 'same': return e
    case 'sig': return { ...e, sig: flipDigit(e.sig, at) }
    case 'content': return { ...e, content: e.content + '!' }
    case 'content+id': return withId({ ...e, content: e.content + '!' })
    case 'pubkey': return { ...e, pubkey: otherPubkey }
    case 'pubkey+id': return withId({ ...e, pubkey: otherPubkey })
    case 'garbage': return { ...e, sig: 'Z' + e.sig.slice(1) }
  }
}

/** The backends compared with noble (noble's own backend is noble: nothing to compare). */
const backends: VerifyBackend[] = []
beforeAll(async () => {
  // Build the addon if this machine can (setup.sh normally has); the script skips cleanly if not.
  if (!existsSync(NATIVE_PATH)) spawnSync(process.execPath, [BUILD_SCRIPT], { stdio: 'inherit' })
  for (const name of ['native', 'wasm'] as BackendName[]) {
    const backend = await loadSignatureCheck(name)
    if (backend.name === name) backends.push(backend)
  }
})

describe('loadSignatureCheck', () => {
  it('prefers native when it is built, and otherwise says why it fell back', async () => {
    const backend = await loadSignatureCheck()
    if (existsSync(NATIVE_PATH)) {
      expect(backend.name).toBe('native')
      expect(backend.skipped).toEqual([])
    } else {
      expect(backend.name).toBe('wasm')
      expect(backend.skipped[0].name).toBe('native')
    }
  })

  it('falls back to wasm when the addon is missing, and honours an explicit preference', async () => {
    const fallback = await loadSignatureCheck('native', { nativePath: '/nonexistent/relaycast_verify.node' })
    expect(fallback.name).toBe('wasm')
    expect(fallback.skipped).toEqual([{ name: 'native', reason: expect.stringContaining('npm run build:native') }])
    expect((await loadSignatureCheck('noble')).name).toBe('noble')
    expect((await loadSignatureCheck('wasm')).name).toBe('wasm')
  })

  it('wasm always loads, native too where it was built', () => {
    expect(backends.map((b) => b.name)).toEqual(existsSync(NATIVE_PATH) ? ['native', 'wasm'] : ['wasm'])
  })
})

describe('every backend answers like noble', () => {
  it('on valid, re-signed, tampered and foreign-key events: check, checkMany and checkEvent', () => {
    const otherPubkey = fc.oneof(secretKey.map((sk) => finalizeEvent({ kind: 1, tags: [], content: '', created_at: 0 }, sk).pubkey), hex(32))
    fc.assert(
      fc.property(template, secretKey, spoil, fc.nat(), otherPubkey, (t, sk, how, at, other) => {
        const e = applySpoil(finalizeEvent(t, sk), how, at, other)
        const expected = nobleSignatureCheck(e)
        const expectedFull = checkEvent(e, () => expected)
        if (how === 'same' || how === 'content') expect(expected).toBe(true)
        if (how !== 'same') expect(expectedFull).toBeDefined()
        for (const b of backends) {
          expect([b.name, b.check(e)]).toEqual([b.name, expected])
          expect([b.name, b.checkMany([e])]).toEqual([b.name, [expected]])
          expect([b.name, b.checkEvent(e)]).toEqual([b.name, expectedFull])
        }
      }),
      RUNS,
    )
  })

  it('checkMany over runs from the same authors equals checking one by one', () => {
    const pool = TEST_KEY_NAMES.flatMap((name) =>
      [0, 1, 2].map((i) => signAs(name, { kind: KIND_LIVE_CHAT, tags: [['a', `30311:${testPubkey('host')}:s`]], content: `${name} ${i}`, created_at: i })),
    )
    // Few distinct spoils, so noble's verdicts (the slow part) can be memoized.
    const other = fc.constantFrom(pool[0].pubkey, 'ab'.repeat(32))
    const item = fc.tuple(fc.nat(pool.length - 1), spoil, fc.nat(15), other).map(([i, how, at, o]) => applySpoil(pool[i], how, at, o))
    const verdicts = new Map<string, boolean>()
    const noble = (e: NostrEvent) => {
      const key = e.sig + e.id + e.pubkey
      if (!verdicts.has(key)) verdicts.set(key, nobleSignatureCheck(e))
      return verdicts.get(key)
    }
    fc.assert(
      fc.property(fc.array(item, { maxLength: 12 }), (events) => {
        const expected = events.map(noble)
        for (const b of backends) expect([b.name, b.checkMany(events)]).toEqual([b.name, expected])
      }),
      RUNS,
    )
  })

  it('keys that share a cache slot never borrow each other\'s parse', () => {
    // Same first two bytes, so the native key cache maps them to one slot; the second key is a
    // different point or none at all. Alternating them makes every lookup evict the other.
    const a = signAs('alice', { kind: KIND_LIVE_CHAT, tags: [], content: 'slot', created_at: 1 })
    const twins = ['00', '01', 'ff'].map((last) => a.pubkey.slice(0, 62) + last).filter((p) => p !== a.pubkey)
    // Alice's id and signature under the twin key: a check that used alice's cached parse would pass it.
    const forged = twins.map((pubkey) => ({ ...a, pubkey }))
    const events = [a, ...forged, a, ...forged, a]
    const expected = events.map((e) => nobleSignatureCheck(e))
    expect(expected.filter(Boolean)).toHaveLength(3)
    for (const b of backends) expect([b.name, b.checkMany(events)]).toEqual([b.name, expected])
  })

  it('node:crypto ids equal the protocol ids', () => {
    fc.assert(
      fc.property(template, hex(32), (t, pubkey) => {
        expect(nodeEventHash({ ...t, pubkey })).toBe(getEventHash({ ...t, pubkey }))
      }),
      { numRuns: 1000 },
    )
  })
})

describe.skipIf(!existsSync(NATIVE_PATH))('the native addon', () => {
  const addon = () =>
    createRequire(import.meta.url)(NATIVE_PATH) as { verify: (...a: unknown[]) => boolean; verifyBatch: (a: unknown) => Uint8Array; batched: boolean }

  it('refuses wrongly sized or typed arguments with a TypeError', () => {
    const { verify, verifyBatch } = addon()
    const z = (n: number) => new Uint8Array(n)
    expect(verify(z(64), z(32), z(32))).toBe(false)
    expect(() => verify(z(63), z(32), z(32))).toThrow(TypeError)
    expect(() => verify(z(64), z(33), z(32))).toThrow(TypeError)
    expect(() => verify(z(64), z(32), new Uint16Array(16))).toThrow(TypeError)
    expect(() => verify(z(64), z(32))).toThrow(TypeError)
    expect(() => verifyBatch(z(129))).toThrow(TypeError)
    expect(() => verifyBatch('x')).toThrow(TypeError)
    expect(verifyBatch(z(0))).toEqual(new Uint8Array(0))
  })

  it('reads views at an offset correctly', () => {
    const { verify } = addon()
    const e = signAs('alice', { kind: KIND_LIVE_CHAT, tags: [], content: 'offset', created_at: 1 })
    const buf = Buffer.alloc(3 + 128)
    buf.write(e.sig + e.id + e.pubkey, 3, 'hex')
    expect(verify(buf.subarray(3, 67), buf.subarray(67, 99), buf.subarray(99, 131))).toBe(true)
    expect(verify(buf.subarray(3, 67), buf.subarray(67, 99), buf.subarray(98, 130))).toBe(false)
  })

  it('checks a chunk exactly as it checks each signature alone, bad encodings and all', () => {
    // Byte-level spoils of valid triples (sig64 | msg32 | pub32). Batches of 4 or more go through
    // one sum when the addon was built with libsecp256k1's sources (batch.h), and through single
    // checks after a failed sum; single `verify` is libsecp256k1's own check, the reference.
    const { verify, verifyBatch } = addon()
    const pool = TEST_KEY_NAMES.flatMap((name) =>
      [0, 1, 2].map((i) => {
        const e = signAs(name, { kind: KIND_LIVE_CHAT, tags: [], content: `${name} batch ${i}`, created_at: i })
        return Buffer.from(e.sig + e.id + e.pubkey, 'hex')
      }),
    )
    const P = Buffer.from('ff'.repeat(32), 'hex') // above both p and n
    type Spoil = 'none' | 'flip' | 'r=max' | 's=max' | 's=0' | 'r from another' | 's from another' | 'other key' | 'key not on curve' | 'copy of another'
    const spoils = fc.constantFrom<Spoil>('none', 'none', 'none', 'flip', 'r=max', 's=max', 's=0', 'r from another', 's from another', 'other key', 'key not on curve', 'copy of another')
    const item = fc.tuple(fc.nat(pool.length - 1), spoils, fc.nat(127), fc.nat(7), fc.nat(pool.length - 1))
    const build = ([i, how, at, bit, j]: [number, Spoil, number, number, number]): Buffer => {
      const t = Buffer.from(pool[i])
      const other = pool[j === i ? (j + 1) % pool.length : j]
      switch (how) {
        case 'none': break
        case 'flip': t[at] ^= 1 << bit; break
        case 'r=max': P.copy(t, 0); break
        case 's=max': P.copy(t, 32); break
        case 's=0': t.fill(0, 32, 64); break
        case 'r from another': other.copy(t, 0, 0, 32); break
        case 's from another': other.copy(t, 32, 32, 64); break
        case 'other key': other.copy(t, 96, 96, 128); break
        case 'key not on curve': t.fill(0xab, 96, 128); break
        case 'copy of another': return Buffer.from(other)
      }
      return t
    }
    fc.assert(
      fc.property(fc.array(item, { maxLength: 70 }), (items) => {
        const triples = items.map(build)
        const expected = triples.map((t) => (verify(t.subarray(0, 64), t.subarray(64, 96), t.subarray(96)) ? 1 : 0))
        items.forEach(([i, how], k) => {
          const ownKey = pool[i].subarray(96).equals(triples[k].subarray(96)) // another event may be by the same author
          if (how === 'none' || how === 'copy of another') expect(expected[k]).toBe(1)
          if (how === 's=max' || how === 'r=max' || how === 's from another' || (how === 'other key' && !ownKey)) expect(expected[k]).toBe(0)
        })
        expect([...verifyBatch(Buffer.concat(triples))]).toEqual(expected)
      }),
      { numRuns: 300 },
    )
  })

  it('catches bad signatures whose errors cancel out in an unweighted sum', () => {
    // s_i + d and s_j - d keep Σ s_i, so a batch that added equations with equal weights (or
    // weights a sender could predict) would pass both; the random weights must catch them.
    const { verifyBatch } = addon()
    const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
    const pool = TEST_KEY_NAMES.map((name, i) => {
      const e = signAs(name, { kind: KIND_LIVE_CHAT, tags: [], content: `cancel ${i}`, created_at: i })
      return Buffer.from(e.sig + e.id + e.pubkey, 'hex')
    })
    const shiftS = (t: Buffer, d: bigint): Buffer => {
      const out = Buffer.from(t)
      const s = (BigInt('0x' + t.subarray(32, 64).toString('hex')) + d + N) % N
      Buffer.from(s.toString(16).padStart(64, '0'), 'hex').copy(out, 32)
      return out
    }
    const d = fc.bigInt({ min: 1n, max: N - 1n })
    fc.assert(
      fc.property(fc.nat(pool.length - 1), fc.nat(pool.length - 2), d, fc.nat(6), (i, k, delta, extra) => {
        const j = k >= i ? k + 1 : k
        const good = pool.filter((_, x) => x !== i && x !== j).slice(0, extra)
        const triples = [shiftS(pool[i], delta), ...good, shiftS(pool[j], N - delta)]
        expect([...verifyBatch(Buffer.concat(triples))]).toEqual([0, ...good.map(() => 1), 0])
      }),
      { numRuns: 100 },
    )
  })
})
