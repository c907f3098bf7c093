import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import fc from 'fast-check'
import { getPublicKey as nostrToolsPublicKey, verifyEvent as nostrToolsVerify } from 'nostr-tools/pure'
import { describe, expect, it } from 'vitest'
import { checkEvent, getEventHash } from './event.ts'
import { createKeySigner, EventTemplateError, finalizeEvent, generateSecretKey, getPublicKey, SecretKeyError } from './keys.ts'
import { KIND_LIVE_CHAT } from './kinds.ts'
import type { EventTemplate } from './types.ts'
import { nobleSignatureCheck } from './verify.ts'

/** Properties that sign every run, 1000 runs each, with pure-JS signing: minutes on a busy 2-core box, not seconds. */
const SIGNING = { timeout: 240_000 }

const RUNS = { numRuns: 1000 }
const secretKey = fc.uint8Array({ minLength: 1, maxLength: 32 }).map((seed) => sha256(seed))
const CURVE_ORDER = 'fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141'
const chat: EventTemplate = { kind: KIND_LIVE_CHAT, tags: [['a', '30311:abc:live', '', 'root']], content: 'hello', created_at: 1700000000 }

describe('keys', SIGNING, () => {
  it('derives the BIP-340 test vector public key', () => {
    const sk = hexToBytes('0'.repeat(63) + '3')
    expect(getPublicKey(sk)).toBe('f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9')
  })

  it('public keys agree with nostr-tools', () => {
    fc.assert(
      fc.property(secretKey, (sk) => {
        expect(getPublicKey(sk)).toBe(nostrToolsPublicKey(sk))
      }),
      RUNS,
    )
  })

  it('generates distinct 32-byte keys that have public keys', () => {
    const a = generateSecretKey()
    const b = generateSecretKey()
    expect(a).toBeInstanceOf(Uint8Array)
    expect(a.length).toBe(32)
    expect(bytesToHex(a)).not.toBe(bytesToHex(b))
    expect(getPublicKey(a)).toMatch(/^[0-9a-f]{64}$/)
  })

  it('refuses invalid secret keys without ever quoting them', () => {
    const bad = [new Uint8Array(32), hexToBytes(CURVE_ORDER), hexToBytes('ff'.repeat(32)), sha256(new Uint8Array([7])).subarray(1)]
    for (const sk of bad) {
      const attempts = [() => getPublicKey(sk), () => createKeySigner(sk), () => finalizeEvent(chat, sk)]
      for (const attempt of attempts) {
        let caught: unknown
        try {
          attempt()
        } catch (err) {
          caught = err
        }
        expect(caught).toBeInstanceOf(SecretKeyError)
        const text = `${(caught as Error).message} ${String((caught as Error).cause)} ${(caught as Error).stack}`
        expect(text).not.toContain(bytesToHex(sk).replace(/^(00)+/, '') || 'never-empty')
        const decimal = BigInt('0x' + bytesToHex(sk)).toString()
        if (decimal.length > 8) expect(text).not.toContain(decimal)
      }
    }
  })
})

describe('finalizeEvent', SIGNING, () => {
  it('signs a copy: a valid event by that key, and nostr-tools agrees', () => {
    fc.assert(
      fc.property(secretKey, fc.string(), fc.array(fc.array(fc.string(), { maxLength: 3 }), { maxLength: 3 }), (sk, content, tags) => {
        const template = { ...chat, content, tags }
        const before = JSON.stringify(template)
        const e = finalizeEvent(template, sk)
        expect(JSON.stringify(template)).toBe(before)
        expect(e.pubkey).toBe(getPublicKey(sk))
        expect(e.id).toBe(getEventHash(e))
        expect(checkEvent(e, nobleSignatureCheck)).toBeUndefined()
        expect(nostrToolsVerify({ ...e })).toBe(true)
        template.tags.push(['later'])
        template.tags[0].push('later')
        expect(e.tags).toEqual(JSON.parse(before).tags)
      }),
      RUNS,
    )
  })

  it('refuses a template no relay would accept, before signing', () => {
    const sk = sha256(new Uint8Array([1]))
    const cases: [Partial<EventTemplate>, string][] = [
      [{ kind: 70000 }, 'cannot sign this template: invalid: kind must be an integer between 0 and 65535'],
      [{ created_at: -5 }, 'cannot sign this template: invalid: created_at must be a non-negative safe integer'],
      [{ content: 'x\uD800' }, 'cannot sign this template: invalid: content must be valid Unicode (no lone surrogates)'],
    ]
    for (const [change, message] of cases) {
      expect(() => finalizeEvent({ ...chat, ...change }, sk)).toThrow(EventTemplateError)
      expect(() => finalizeEvent({ ...chat, ...change }, sk)).toThrow(message)
    }
  })
})

describe('createKeySigner', () => {
  it('signs like finalizeEvent and keeps its own copy of the key', () => {
    const sk = sha256(new Uint8Array([2]))
    const pubkey = getPublicKey(sk)
    const sign = createKeySigner(sk)
    sk.fill(0) // the caller wiping its key must not break the signer
    const e = sign(chat)
    expect(e.pubkey).toBe(pubkey)
    expect(checkEvent(e, nobleSignatureCheck)).toBeUndefined()
  })
})
