/**
 * Hostile and malformed client frames for the relay's fuzz test, from a seeded generator (so a
 * failure is reproducible from its seed), and the answer each frame deserves.
 *
 * The answer rule (NIP-01 plus what the relay promises): every text frame gets exactly one
 * terminal answer, except a well-formed CLOSE or NEG-CLOSE, which get none.
 *   - a refused message: OK <id> when it is an EVENT/AUTH whose payload has a 64-hex id, CLOSED
 *     <sub> for REQ/COUNT with a string sub id, NEG-ERR <sub> for NEG-OPEN/NEG-MSG, else NOTICE;
 *   - EVENT, AUTH: OK <id>, or NOTICE when the payload has no usable id;
 *   - REQ: EOSE <sub> or CLOSED <sub> (stored EVENTs before it are not answers);
 *   - COUNT: COUNT <sub> or CLOSED <sub>;  NEG-OPEN, NEG-MSG: NEG-MSG <sub> or NEG-ERR <sub>.
 * Which messages are well formed is decided by the relay's own parser (protocol/messages.ts):
 * its verdicts are tested on their own; here the point is that the relay answers and survives.
 */
import { hash } from 'node:crypto'
import { serializeEvent } from '../../protocol/event.ts'
import type { Limits } from '../../protocol/limits.ts'
import { MessageError, parseClientMessage } from '../../protocol/messages.ts'
import type { NostrEvent } from '../../protocol/types.ts'

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number
  /** Integer in [0, n). */
  int(n: number): number
  pick<T>(xs: readonly T[]): T
  chance(p: number): boolean
}

/** mulberry32: tiny, fast, good enough to spread frames over the cases. */
export function createRng(seed: number): Rng {
  let a = seed >>> 0
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number): number => Math.floor(next() * n)
  return { next, int, pick: (xs) => xs[int(xs.length)], chance: (p) => next() < p }
}

/** A terminal answer a frame deserves: one of `verbs`, naming `key` (absent for NOTICE). */
export interface Expected {
  verbs: readonly string[]
  key?: string
}

const HEX64 = /^[0-9a-f]{64}$/
const idOf = (payload: unknown): string | undefined => {
  const id = typeof payload === 'object' && payload !== null ? (payload as { id?: unknown }).id : undefined
  return typeof id === 'string' && HEX64.test(id) ? id : undefined
}

export interface Verdict {
  /** The answer the frame deserves; undefined for a well-formed CLOSE / NEG-CLOSE. */
  expected: Expected | undefined
  /**
   * For a well-formed REQ, CLOSE or NEG-*: the subscription it opens, replaces or closes. NIP-01
   * leaves the answer to a REQ undefined once another frame replaces or closes it before its
   * EOSE, so senders hold such a frame back while that sub id still awaits its answer.
   */
  touches?: string
}

/** The answer `text` deserves (see the rule above). */
export function judgeFrame(text: string, limits: Limits): Verdict {
  let msg
  try {
    msg = parseClientMessage(text, limits)
  } catch (err) {
    if (!(err instanceof MessageError)) return { expected: { verbs: ['NOTICE'] } } // the relay answers a parser bug too
    const { verb, subId, eventId } = err
    if ((verb === 'EVENT' || verb === 'AUTH') && eventId) return { expected: { verbs: ['OK'], key: eventId } }
    if ((verb === 'REQ' || verb === 'COUNT') && subId !== undefined) return { expected: { verbs: ['CLOSED'], key: subId } }
    if ((verb === 'NEG-OPEN' || verb === 'NEG-MSG') && subId !== undefined) return { expected: { verbs: ['NEG-ERR'], key: subId } }
    return { expected: { verbs: ['NOTICE'] } }
  }
  switch (msg[0]) {
    case 'EVENT':
    case 'AUTH': {
      const id = idOf(msg[1])
      return { expected: id ? { verbs: ['OK'], key: id } : { verbs: ['NOTICE'] } }
    }
    case 'REQ':
      return { expected: { verbs: ['EOSE', 'CLOSED'], key: msg[1] }, touches: msg[1] }
    case 'COUNT':
      return { expected: { verbs: ['COUNT', 'CLOSED'], key: msg[1] } }
    case 'NEG-OPEN':
    case 'NEG-MSG':
      return { expected: { verbs: ['NEG-MSG', 'NEG-ERR'], key: msg[1] }, touches: msg[1] }
    case 'CLOSE':
    case 'NEG-CLOSE':
      return { expected: undefined, touches: msg[1] }
  }
}

/** What the generator draws on: its random stream, genuine signed events, fresh sub ids. */
export interface FrameSource {
  rng: Rng
  /** Correctly signed events (the only ones the relay may accept). */
  valid: readonly NostrEvent[]
  /** A sub id never used before (its prefix tells connections apart). */
  freshSubId(): string
  /** Frames that are costly to build (hashing 64 KiB, thousands of values), built once each. */
  memo(key: string, build: () => string): string
}

/** Costly frames depend only on their key (an event id, a size), so every source shares them. */
const cache = new Map<string, string>()

export function createFrameSource(seed: number, valid: readonly NostrEvent[], subPrefix: string): FrameSource {
  let n = 0
  return {
    rng: createRng(seed),
    valid,
    // Sparse (a counter and a hash of it), so mutating one frame's id rarely yields another's.
    freshSubId: () => `${subPrefix}${n.toString(36)}-${(Math.imul(n++, 0x9e3779b1) >>> 0).toString(36)}`,
    memo(key, build) {
      let frame = cache.get(key)
      if (frame === undefined) cache.set(key, (frame = build()))
      return frame
    },
  }
}

const KINDS = [0, 1, 3, 5, 7, 1311, 10000, 10312, 20001, 22242, 30311, 31337, 65535]
const LETTERS = ['t', 'a', 'e', 'p', 'd', 'status', 'T', 'x', 'tt', '', '#', 'é']
const VERBS = ['EVENT', 'REQ', 'CLOSE', 'AUTH', 'COUNT', 'NEG-OPEN', 'NEG-MSG', 'NEG-CLOSE']
const ODD_VERBS = ['event', 'EVENTS', '', ' REQ', 'OK', 'EOSE', 'NOTICE', 'CLOSED', 'NEG-ERR', 'REQ\u0000', 'x'.repeat(200)]
const ODD_NUMBERS = ['1e308', '1e999', '-1e999', '-0', '-1', '1.5', '9007199254740993', '123456789012345678901234567890', '0.0000001', '1E2', '0x10']
/** Characters that stress a JSON parser and UTF-8 handling; lone surrogates become U+FFFD on the wire. */
const ODD_CHARS = ['"', '\\', '[', ']', '{', '}', ',', ':', '\u0000', '\u001f', '\u2028', '\uffff', '\ud800', '\udfff', '😀', 'é', ' ', '\n', 'n', 'u', 'l', '0', '9', 'e', '-']

/** Random hex made once (from a fixed seed): drawing from it is cheap, and ids rarely repeat. */
const HEX_POOL = ((): string[] => {
  const rng = createRng(0x5eed)
  return Array.from({ length: 4096 }, () => {
    let s = ''
    while (s.length < 128) s += Math.floor(rng.next() * 0x100000000).toString(16).padStart(8, '0')
    return s
  })
})()

/** Up to 128 hex characters. */
const hex = (rng: Rng, chars: number): string => HEX_POOL[rng.int(HEX_POOL.length)].slice(0, chars)

function randomString(rng: Rng, max: number): string {
  const n = rng.int(max + 1)
  let s = ''
  for (let i = 0; i < n; i++) {
    s += rng.chance(0.6) ? String.fromCharCode(32 + rng.int(95)) : rng.chance(0.8) ? rng.pick(ODD_CHARS) : String.fromCharCode(rng.int(0x10000))
  }
  return s
}

function randomJson(rng: Rng, depth: number): unknown {
  switch (rng.int(depth > 0 ? 9 : 6)) {
    case 0:
      return null
    case 1:
      return rng.chance(0.5)
    case 2:
      return rng.chance(0.5) ? rng.int(100000) - 50000 : (rng.next() - 0.5) * 10 ** rng.int(300)
    case 3:
      return randomString(rng, 20)
    case 4:
      return hex(rng, rng.pick([64, 64, 128, 63, 66]))
    case 5:
      return rng.pick(VERBS)
    case 6:
    case 7:
      return Array.from({ length: rng.int(5) }, () => randomJson(rng, depth - 1))
    default:
      return Object.fromEntries(Array.from({ length: rng.int(5) }, () => [rng.pick(['ids', 'authors', 'kinds', '#t', 'limit', 'since', 'id', 'sig', 'tags', 'content', randomString(rng, 6)]), randomJson(rng, depth - 1)]))
  }
}

/** A filter the parser accepts, small enough that answers stay small. */
function validFilter(src: FrameSource): Record<string, unknown> {
  const { rng, valid } = src
  const f: Record<string, unknown> = {}
  if (rng.chance(0.3)) f.ids = Array.from({ length: 1 + rng.int(3) }, () => (rng.chance(0.5) ? rng.pick(valid).id : hex(rng, 64)))
  if (rng.chance(0.3)) f.authors = Array.from({ length: 1 + rng.int(3) }, () => rng.pick(valid).pubkey)
  if (rng.chance(0.4)) f.kinds = Array.from({ length: 1 + rng.int(3) }, () => rng.pick(KINDS))
  if (rng.chance(0.2)) f['#t'] = [rng.pick(['music', 'gaming', 'fuzz', ''])]
  if (rng.chance(0.1)) f['#status'] = ['live']
  if (rng.chance(0.1)) f['#a'] = [`30311:${rng.pick(valid).pubkey}:fuzz`]
  if (rng.chance(0.2)) f.since = rng.int(2_000_000_000)
  if (rng.chance(0.2)) f.until = rng.int(2_000_000_000)
  if (rng.chance(0.1)) f.search = randomString(rng, 10)
  // Small: stored events are not answers, and each one costs both ends a parse.
  if (rng.chance(0.98)) f.limit = rng.int(4)
  return f
}

/** A filter the parser refuses, one way or another. */
function badFilter(src: FrameSource): string {
  const { rng } = src
  const n = rng.pick(ODD_NUMBERS)
  return rng.pick([
    () => `{"ids":"${hex(rng, 64)}"}`,
    () => `{"ids":["${hex(rng, 63)}"]}`,
    () => `{"authors":[${n}]}`,
    () => `{"kinds":["1"]}`,
    () => `{"kinds":[${rng.pick(['70000', '-1', '1.5', '1e999', n])}]}`,
    () => `{"#${rng.pick(LETTERS.slice(6))}":["x"]}`,
    () => `{"#t":[${n}]}`,
    () => `{"#t":"music"}`,
    () => `{"since":"yesterday"}`,
    () => `{"limit":${rng.pick(['-1', '1.5', '1e999', '"10"', 'null', n])}}`,
    () => `{"until":${n},"since":${n}}`,
    () => `{"search":${n}}`,
    () => `{"${randomString(rng, 8).replace(/["\\]/g, '')}x":1}`,
    () => rng.pick(['null', '[]', '5', '"filter"', 'true', '[{}]']),
    () => src.memo('authors-over-cap', () => JSON.stringify({ authors: HEX_POOL.slice(0, 1001).map((h) => h.slice(0, 64)) })),
    () => `{"#t":${'['.repeat(50 + rng.int(2000))}${']'.repeat(0)}`,
  ])()
}

function eventJson(e: NostrEvent): string {
  return JSON.stringify({ id: e.id, pubkey: e.pubkey, created_at: e.created_at, kind: e.kind, tags: e.tags, content: e.content, sig: e.sig })
}

/** A signed event broken in one way; it keeps an id that looks right, so OK names it. */
function badEvent(src: FrameSource): string {
  const { rng } = src
  const e = { ...rng.pick(src.valid) }
  const n = rng.pick(ODD_NUMBERS)
  // The costly cases (11, 12: tens of KiB to hash and parse) come a quarter as often as the rest.
  const roll = rng.int(14)
  switch ((roll === 11 || roll === 12) && rng.chance(0.75) ? 0 : roll) {
    case 0: // content changed: the id no longer matches
      return eventJson({ ...e, content: e.content + randomString(rng, 5) + '.' })
    case 1: // id recomputed, signature from another event
      return eventJson(withId({ ...e, content: `${e.content} (edited)` }, rng.pick(src.valid).sig))
    case 2: // right id, random signature
      return eventJson({ ...e, sig: hex(rng, 128) })
    case 3: // valid-looking id over nothing
      return eventJson({ ...e, id: hex(rng, 64) })
    case 4:
      return eventJson({ ...e, pubkey: hex(rng, 64) })
    case 5:
      return JSON.stringify({ ...e, extra: 1 })
    case 6:
      return JSON.stringify({ ...e, sig: undefined })
    case 7:
      return eventJson(e).replace(`"kind":${e.kind}`, `"kind":${rng.pick(['70000', '-1', '1.5', '"1"', n])}`)
    case 8:
      return eventJson(e).replace(`"created_at":${e.created_at}`, `"created_at":${rng.pick(['-1', '"now"', '1e999', n])}`)
    case 9:
      return JSON.stringify({ ...e, tags: rng.pick([[[1]], ['t'], [['t', null]], 'tags', [[['x']]], {}]) })
    case 10: // lone surrogate, escaped so it survives the wire
      return eventJson(e).replace(`"content":"`, '"content":"\\ud800')
    case 11: // too many tags (id recomputed, so only the cap refuses it)
      return src.memo(`tags:${e.id}`, () => eventJson(withId({ ...e, tags: Array.from({ length: 2001 }, (_, i) => ['t', `t${i}`]) }, e.sig)))
    case 12: // content over the cap
      return src.memo(`content:${e.id}`, () => eventJson(withId({ ...e, content: 'x'.repeat(65 * 1024 + rng.int(1000)) }, e.sig)))
    default:
      return JSON.stringify({ ...e, id: e.id.toUpperCase() })
  }
}

function withId(e: NostrEvent, sig: string): NostrEvent {
  // node:crypto: the JS sha256 over the 40–65 KiB frames was most of the generator's time.
  const id = hash('sha256', serializeEvent(e), 'hex')
  return { ...e, id, sig }
}

/** A well-formed message (or one that looks like it), as a base for truncation and mutation. */
function plausible(src: FrameSource): string {
  const { rng } = src
  switch (rng.int(6)) {
    case 0:
      return `["EVENT",${eventJson(rng.pick(src.valid))}]`
    case 1:
      return `["EVENT",${badEvent(src)}]`
    case 2:
      return JSON.stringify(['REQ', src.freshSubId(), validFilter(src)])
    case 3:
      return JSON.stringify(['COUNT', src.freshSubId(), validFilter(src), validFilter(src)])
    case 4:
      return `["REQ","${src.freshSubId()}",${badFilter(src)}]`
    default:
      return JSON.stringify(['AUTH', rng.pick(src.valid)])
  }
}

function mutate(rng: Rng, text: string): string {
  let s = text
  for (let i = 1 + rng.int(3); i > 0; i--) {
    const at = rng.int(s.length + 1)
    const c = rng.pick(ODD_CHARS)
    s = rng.pick([() => s.slice(0, at) + c + s.slice(at + 1), () => s.slice(0, at) + c + s.slice(at), () => s.slice(0, at) + s.slice(at + 1)])()
  }
  return s
}

function deep(rng: Rng, budget: number): string {
  const n = 100 + rng.int(budget)
  // Arrays take 2 characters a level, objects 6: either stays under the transport's cut-off.
  const nest = rng.chance(0.5) ? '['.repeat(n) + ']'.repeat(n) : '{"a":'.repeat(n / 3) + '1' + '}'.repeat(n / 3)
  return rng.pick([
    () => nest,
    () => `["REQ","d",{"#t":${nest}}]`,
    () => `["REQ",${nest},{}]`,
    () => `["EVENT",${nest}]`,
    () => `["EVENT",{"id":"${hex(rng, 64)}","tags":${nest}}]`,
    () => `["COUNT","c",${nest}]`,
    () => `[${nest}]`,
    () => `["NEG-OPEN","n",${nest},"00"]`,
  ])()
}

/**
 * One frame of text. The cases, roughly by weight: garbage text and random JSON, truncated and
 * mutated messages, wrong arity, odd numbers, deep nesting, bad filters, bad events with ids that
 * look right, genuine events (new and duplicate), valid REQ/COUNT/CLOSE/NEG-*, bad sub ids, odd
 * verbs and non-arrays, and a few frames just over the size cap.
 */
export function makeFrame(src: FrameSource, limits: Limits): string {
  const { rng } = src
  const sub = src.freshSubId()
  const roll = rng.int(100)
  if (roll < 6) return randomString(rng, 120)
  if (roll < 12) return JSON.stringify(randomJson(rng, 4))
  if (roll < 18) return JSON.stringify([rng.pick(VERBS), ...Array.from({ length: rng.int(4) }, () => randomJson(rng, 3))])
  if (roll < 24) {
    const whole = plausible(src)
    return whole.slice(0, rng.int(whole.length)) + (rng.chance(0.2) ? randomString(rng, 5) : '')
  }
  if (roll < 32) return mutate(rng, plausible(src))
  if (roll < 37) {
    return rng.pick([
      () => '["EVENT"]',
      () => `["EVENT",${eventJson(rng.pick(src.valid))},{}]`,
      () => '["REQ"]',
      () => `["REQ","${sub}"]`,
      () => '["CLOSE"]',
      () => `["CLOSE","${sub}","extra"]`,
      () => '["AUTH"]',
      () => `["AUTH",{},{}]`,
      () => `["COUNT","${sub}"]`,
      () => `["NEG-OPEN","${sub}",{}]`,
      () => `["NEG-MSG","${sub}"]`,
      () => `["NEG-CLOSE"]`,
      () => `["REQ","${sub}"${',{}'.repeat(11 + rng.int(5))}]`,
      () => '[]',
    ])()
  }
  if (roll < 41) {
    const n = rng.pick(ODD_NUMBERS)
    return rng.pick([
      () => `["REQ","${sub}",{"kinds":[${n}],"limit":${n}}]`,
      () => `["COUNT","${sub}",{"since":${n},"until":${n}}]`,
      () => `["EVENT",{"id":"${hex(rng, 64)}","pubkey":"${hex(rng, 64)}","created_at":${n},"kind":${n},"tags":[],"content":"","sig":"${hex(rng, 128)}"}]`,
      () => `[${n},"${sub}"]`,
      () => `["REQ","${sub}",{"limit":${n}}]`,
    ])()
  }
  if (roll < 44) return deep(rng, rng.chance(0.03) ? 60_000 : 3000)
  if (roll < 52) return `["${rng.pick(['REQ', 'COUNT'])}","${sub}",${badFilter(src)}]`
  if (roll < 64) return `["EVENT",${badEvent(src)}]`
  if (roll < 70) return `["EVENT",${eventJson(rng.pick(src.valid))}]`
  if (roll < 80) {
    const filters = Array.from({ length: 1 + rng.int(3) }, () => validFilter(src))
    return JSON.stringify([rng.chance(0.7) ? 'REQ' : 'COUNT', sub, ...filters])
  }
  if (roll < 84) {
    return rng.pick([
      () => `["CLOSE","${sub}"]`,
      () => `["CLOSE","${rng.pick(['x', 'sub', '1'])}"]`,
      () => `["NEG-CLOSE","${sub}"]`,
      () => `["NEG-OPEN","${sub}",${JSON.stringify(validFilter(src))},"${rng.pick(['61', '6100', '00', 'zz', '', '610000'])}"]`,
      () => `["NEG-MSG","${sub}","${rng.pick(['61', '6100000000', 'abc', '0'])}"]`,
    ])()
  }
  if (roll < 88) {
    const bad = rng.pick(['""', `"${'s'.repeat(65)}"`, '1', 'null', '{}', '[]', 'true', `"${sub}${'é'.repeat(64 - sub.length)}"`, `"${'😀'.repeat(40)}"`])
    return `["${rng.pick(['REQ', 'COUNT', 'CLOSE', 'NEG-OPEN', 'NEG-MSG', 'NEG-CLOSE'])}",${bad},{}]`
  }
  if (roll < 92) {
    return rng.pick([
      () => `["${rng.pick(ODD_VERBS)}","${sub}",{}]`,
      () => rng.pick(['{}', '"REQ"', '5', 'null', 'true', '', ' ', '\n[]', '[null]', '[1,2]', '[["REQ"]]', '{"0":"REQ"}']),
      () => JSON.stringify(['AUTH', randomJson(rng, 2)]),
      () => JSON.stringify(['AUTH', { ...rng.pick(src.valid), kind: 22242 }]),
    ])()
  }
  if (roll < 93 && rng.chance(0.3)) {
    // Over the message cap but under the transport's: refused by the parser, named if possible.
    const pad = src.memo('pad', () => 'x'.repeat(limits.maxMessageBytes * 1.5)).slice(0, limits.maxMessageBytes + rng.int(limits.maxMessageBytes / 2))
    return rng.pick([
      () => `["REQ","${sub}",{"search":"${pad}"}]`,
      () => `["EVENT",{"id":"${hex(rng, 64)}","content":"${pad}"}]`,
      () => `["NOTICE","${pad}"]`,
      () => pad,
    ])()
  }
  if (roll < 96 && rng.chance(0.1)) {
    // Many values: at the cap is fine, one over is not.
    const n = rng.chance(0.5) ? limits.maxValuesPerFilter : limits.maxValuesPerFilter + 1
    const filter = src.memo(`authors-${n}`, () => JSON.stringify({ authors: HEX_POOL.slice(0, n).map((h) => h.slice(0, 64)), limit: 1 }))
    return `["REQ","${sub}",${filter}]`
  }
  return mutate(rng, mutate(rng, plausible(src)))
}

/** Bytes that are not valid UTF-8 (overlong forms, lone continuation bytes, surrogates, > U+10FFFF). */
export function invalidUtf8(rng: Rng): Uint8Array {
  const bad = rng.pick([[0xc0, 0xaf], [0x80], [0xed, 0xa0, 0x80], [0xf5, 0x80, 0x80, 0x80], [0xff], [0xe2, 0x82]])
  const head = new TextEncoder().encode(`["REQ","${hex(rng, 8)}",{"#t":["`)
  return Uint8Array.from([...head, ...bad, ...new TextEncoder().encode('"]}]')])
}
