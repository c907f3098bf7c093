/**
 * Fuzz: over 100,000 random and malformed frames on a few connections, pipelined. The relay must
 * answer every frame that deserves an answer exactly once (the rule is in
 * test/relay/fuzz-frames.ts), send nothing it was not asked for, accept no event it was not
 * given signed, log no internal error, and keep serving a well-behaved client throughout and
 * after. Frames that end a connection by design (binary, invalid UTF-8, over the transport cap,
 * bytes that are not WebSocket) go on throwaway connections and must close them with the
 * right code. The seed is printed; FUZZ_SEED=<n> draws the same frames again (which of them are
 * skipped for racing a pending REQ depends on timing).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { connect as tcpConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay'
import type { Event as ToolsEvent } from 'nostr-tools/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createKeySigner, generateSecretKey, getPublicKey } from '../protocol/keys.ts'
import {
  KIND_CONTACTS,
  KIND_DELETION,
  KIND_LIVE_CHAT,
  KIND_LIVE_EVENT,
  KIND_METADATA,
  KIND_TEXT_NOTE,
} from '../protocol/kinds.ts'
import type { Limits } from '../protocol/limits.ts'
import type { EventTemplate, NostrEvent } from '../protocol/types.ts'
import { createFrameSource, createRng, invalidUtf8, judgeFrame, makeFrame } from '../test/relay/fuzz-frames.ts'
import type { Expected, FrameSource, Rng } from '../test/relay/fuzz-frames.ts'
import { createLmdbStore } from './store/lmdb-store.ts'
import { startTestRelay } from './test-harness.ts'
import type { TestRelay } from './test-harness.ts'

useWebSocketImplementation(WebSocket)

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000)
const CONNECTIONS = 4
const FRAMES_PER_CONNECTION = 25_000
/** Frames awaiting an answer per connection: deep enough to pipeline, shallow enough not to hit the busy cap. */
const WINDOW = 128
const THROWAWAY_ROUNDS = 40
/** No answer at all for this long means a frame was dropped: fail with what is missing. */
const STALL_MS = 20_000
const KIND_EPHEMERAL = 20001
const EVENT_PREFIX = Buffer.from('["EVENT",')

const now = (): number => Math.floor(Date.now() / 1000)
const NO_LIMITS = { ipEventsPerSecond: 1e9, ipEventBurst: 1e9, pubkeyEventsPerSecond: 1e9, pubkeyEventBurst: 1e9, chatSlowModeSeconds: 0 }

/** Genuine events of the kinds the relay treats differently (regular, replaceable, addressable, deletion, ephemeral, expired, protected). */
function signPool(): NostrEvent[] {
  const signers = Array.from({ length: 6 }, () => createKeySigner(generateSecretKey()))
  const t = now()
  const pool: NostrEvent[] = []
  const add = (i: number, template: EventTemplate): NostrEvent => {
    const e = signers[i % signers.length](template)
    pool.push(e)
    return e
  }
  for (let i = 0; i < 60; i++) {
    const created_at = t - 1000 + i
    add(i, { kind: KIND_TEXT_NOTE, created_at, tags: [['t', i % 2 ? 'music' : 'fuzz']], content: `note ${i} ✓ “quotes” \\ back` })
    add(i, { kind: KIND_LIVE_CHAT, created_at, tags: [['a', `${KIND_LIVE_EVENT}:${'0'.repeat(64)}:fuzz`, '', 'root']], content: `chat ${i}` })
    if (i % 6 === 0) add(i, { kind: KIND_METADATA, created_at, tags: [], content: `{"name":"v${i}"}` })
    if (i % 10 === 0) add(i, { kind: KIND_CONTACTS, created_at, tags: [['p', '1'.repeat(64)]], content: '' })
    if (i % 5 === 0) add(i, { kind: KIND_LIVE_EVENT, created_at, tags: [['d', `s${i % 3}`], ['status', 'live'], ['title', `stream ${i}`]], content: '' })
    if (i % 15 === 0) add(i, { kind: KIND_EPHEMERAL, created_at, tags: [], content: 'ephemeral' })
    if (i % 15 === 1) add(i, { kind: KIND_TEXT_NOTE, created_at, tags: [['expiration', String(t - 10)]], content: 'expired' })
    if (i % 15 === 2) add(i, { kind: KIND_TEXT_NOTE, created_at, tags: [['-']], content: 'protected' })
  }
  const notes = pool.filter((e) => e.kind === KIND_TEXT_NOTE)
  for (let i = 0; i < 6; i++) add(i, { kind: KIND_DELETION, created_at: t, tags: [['e', notes[i * 6].id]], content: '' })
  return pool
}

interface FuzzResult {
  frames: number
  /** Frames that deserved an answer, and the answers that came (by verb). */
  expected: number
  answers: Record<string, number>
  /** Anything the relay sent that no frame asked for, or an accepted event nobody signed. */
  unexpected: string[]
}

/** One fuzzing connection: keeps WINDOW answer-deserving frames in flight until `frames` are sent and answered. */
function fuzzConnection(url: string, src: FrameSource, frames: number, limits: Limits, signedIds: ReadonlySet<string>): Promise<FuzzResult> {
  const ws = new WebSocket(url)
  const result: FuzzResult = { frames: 0, expected: 0, answers: {}, unexpected: [] }
  const outstanding = new Map<string, (Expected & { frame: string })[]>()
  /** Sub ids whose REQ or NEG-* still awaits its answer (see Verdict.touches). */
  const busySubs = new Map<string, number>()
  let notices = 0
  let inFlight = 0
  let lastAnswer = Date.now()

  return new Promise<FuzzResult>((resolve, reject) => {
    const stall = setInterval(() => {
      if (Date.now() - lastAnswer < STALL_MS) return
      const waiting = JSON.stringify([...outstanding.values()].flat().slice(0, 10))
      finish(new Error(`no answer for ${STALL_MS} ms; ${inFlight} in flight: ${notices} NOTICE and ${waiting}; unexpected: ${JSON.stringify(result.unexpected.slice(0, 10))}`))
    }, 1000)
    function finish(err?: Error): void {
      clearInterval(stall)
      ws.removeAllListeners('close')
      ws.close()
      if (err) reject(err)
      else resolve(result)
    }

    // Answers that arrive together free several slots: refill them in one corked write.
    let pumping = false
    function schedulePump(): void {
      if (pumping) return
      pumping = true
      setImmediate(() => {
        pumping = false
        pump()
      })
    }

    function pump(): void {
      if (ws.readyState !== WebSocket.OPEN) return
      const socket = (ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket
      socket.cork()
      try {
        fill()
      } finally {
        socket.uncork()
      }
      if (result.frames === frames && inFlight === 0) finish()
    }

    function fill(): void {
      while (inFlight < WINDOW && result.frames < frames) {
        let text: string
        let verdict: ReturnType<typeof judgeFrame>
        do {
          // What the relay will read: ws encodes lone surrogates as U+FFFD.
          text = Buffer.from(makeFrame(src, limits)).toString()
          verdict = judgeFrame(text, limits)
        } while (verdict.touches !== undefined && busySubs.has(verdict.touches))
        result.frames++
        const expected = verdict.expected
        if (expected) {
          inFlight++
          result.expected++
          if (expected.key === undefined) notices++
          else outstanding.set(expected.key, [...(outstanding.get(expected.key) ?? []), { ...expected, frame: text.slice(0, 300) }])
          if (verdict.touches !== undefined) busySubs.set(verdict.touches, (busySubs.get(verdict.touches) ?? 0) + 1)
        }
        ws.send(text)
      }
    }

    function answered(verb: string, key: string | undefined, text: string): boolean {
      if (key === undefined) {
        if (notices === 0) return false
        notices--
        return true
      }
      const list = outstanding.get(key)
      // Two frames may share a key (a mutation can produce any id): give the answer to the
      // expectation that allows the fewest verbs, so {CLOSED} takes a CLOSED before {COUNT, CLOSED}.
      let i = -1
      list?.forEach((e, j) => {
        if (e.verbs.includes(verb) && (i < 0 || e.verbs.length < list[i].verbs.length)) i = j
      })
      if (!list || i < 0) return false
      const [done] = list.splice(i, 1)
      if (list.length === 0) outstanding.delete(key)
      if (done.verbs.includes('EOSE') || done.verbs.includes('NEG-MSG')) {
        const n = (busySubs.get(key) ?? 1) - 1
        if (n === 0) busySubs.delete(key)
        else busySubs.set(key, n)
      }
      if (verb === 'OK' && JSON.parse(text)[2] === true && !signedIds.has(key)) result.unexpected.push(`accepted an event nobody signed: ${text}`)
      return true
    }

    ws.on('message', (data: Buffer) => {
      // Stored and live events of open REQs are not answers: counted without a parse.
      if (data.subarray(0, 9).equals(EVENT_PREFIX)) {
        result.answers.EVENT = (result.answers.EVENT ?? 0) + 1
        return
      }
      const text = data.toString()
      let msg: unknown[]
      try {
        msg = JSON.parse(text) as unknown[]
      } catch {
        result.unexpected.push(`not JSON: ${text.slice(0, 200)}`)
        return
      }
      const verb = String(msg[0])
      result.answers[verb] = (result.answers[verb] ?? 0) + 1
      if (verb === 'AUTH' || verb === 'EVENT') return // the greeting; stored and live events of open REQs
      const key = verb === 'NOTICE' ? undefined : String(msg[1])
      if (!answered(verb, key, text)) {
        result.unexpected.push(text.slice(0, 300))
        return
      }
      lastAnswer = Date.now()
      inFlight--
      // The subscription has served its purpose: free its slot (a CLOSE gets no answer).
      if (verb === 'EOSE') ws.send(JSON.stringify(['CLOSE', key]))
      schedulePump()
    })
    ws.once('open', pump)
    ws.once('error', (err) => finish(err))
    ws.once('close', (code) => finish(new Error(`the relay closed a fuzzing connection (code ${code})`)))
  })
}

/** Every wait in this test is bounded, so a dropped answer fails with a reason instead of hanging. */
function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms)
  })
  return Promise.race([work, late]).finally(() => clearTimeout(timer))
}

/** Opens a connection, does `act`, and resolves with the close code the relay ends it with. */
function closeCodeAfter(url: string, act: (ws: WebSocket) => void): Promise<number> {
  const ws = new WebSocket(url)
  ws.on('error', () => undefined) // the relay cutting us off is the point
  ws.once('open', () => act(ws))
  return within(STALL_MS, 'a throwaway connection was not closed', new Promise((resolve) => ws.once('close', (code) => resolve(code))))
}

/** Raw TCP: `bytes` after an optional WebSocket handshake; resolves when the relay drops the socket. */
function rawTcpDropped(port: number, bytes: Uint8Array, handshake: boolean): Promise<void> {
  return within(STALL_MS, `raw TCP (handshake: ${handshake}) was not dropped`, new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1')
    socket.on('error', () => undefined) // a reset is a drop too
    socket.once('close', () => resolve())
    socket.resume() // read (and drop) what the relay answers, so its end is seen
    socket.once('connect', () => {
      if (!handshake) return void socket.write(bytes)
      socket.write(
        'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      )
      let head = ''
      socket.on('data', (chunk: Buffer) => {
        if (head.includes('\r\n\r\n')) return
        head += chunk.toString('latin1')
        if (!head.includes('\r\n\r\n')) return
        if (!head.startsWith('HTTP/1.1 101')) return reject(new Error(`no upgrade: ${head}`))
        socket.write(bytes)
      })
    })
  }))
}

/** A nostr-tools client whose timeouts (4.4 s by default) are the stall bound: slow on a busy machine is not lost. */
async function connectClient(url: string): Promise<Relay> {
  const relay = await Relay.connect(url)
  relay.publishTimeout = STALL_MS
  relay.baseEoseTimeout = STALL_MS
  return relay
}

function randomBytes(rng: Rng, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => rng.int(256))
}

describe('fuzz: random and malformed frames', () => {
  let t: TestRelay
  let pool: NostrEvent[]
  let storeDir: string | undefined

  beforeAll(async () => {
    // The LMDB store without fsync: this test is about parsing and answering, and waiting on the
    // disk would only slow it (the crash test covers durability).
    storeDir = await mkdtemp(join(tmpdir(), 'relaycast-fuzz-'))
    const store = await createLmdbStore({ path: storeDir, noSync: true })
    t = await startTestRelay(NO_LIMITS, { store })
    pool = signPool()
  })
  afterAll(async () => {
    await t?.stop()
    await t?.relay.api.store.close()
    if (storeDir) await rm(storeDir, { recursive: true, force: true })
  })

  it(`answers each of ${CONNECTIONS * FRAMES_PER_CONNECTION} frames, stays up, and a well-behaved client keeps working (seed ${SEED})`, async () => {
    const limits = t.config.limits
    const signedIds = new Set(pool.map((e) => e.id))
    const goodKey = generateSecretKey()
    const good = createKeySigner(goodKey)
    const goodEvents: NostrEvent[] = []

    // The well-behaved client: one live subscription, and publish + read back in a loop.
    const client = await connectClient(t.url)
    const live: string[] = []
    await new Promise<void>((resolve) =>
      client.subscribe([{ authors: [getPublicKey(goodKey)] }] as never, {
        onevent: (e: ToolsEvent) => void live.push(e.id),
        oneose: resolve,
      }),
    )
    const roundTrip = async (relay: Relay, i: number): Promise<void> => {
      const e = good({ kind: KIND_TEXT_NOTE, created_at: now(), tags: [['t', 'well-behaved']], content: `still here ${i}` })
      goodEvents.push(e)
      signedIds.add(e.id)
      await relay.publish(e as unknown as ToolsEvent)
      const got: string[] = []
      await new Promise<void>((resolve) => {
        const sub = relay.subscribe([{ ids: [e.id] }] as never, {
          onevent: (x: ToolsEvent) => void got.push(x.id),
          oneose: () => {
            sub.close()
            resolve()
          },
        })
      })
      expect(got).toEqual([e.id])
    }

    let fuzzing = true
    const wellBehaved = (async () => {
      let rounds = 0
      while (fuzzing) await roundTrip(client, rounds++)
      return rounds
    })()
    wellBehaved.catch(() => undefined) // awaited below; this only keeps an early failure from counting as unhandled

    const rng = createRng(SEED)
    const runs = Array.from({ length: CONNECTIONS }, (_, c) =>
      fuzzConnection(t.url, createFrameSource(SEED * 31 + c, pool, `f${c}-`), FRAMES_PER_CONNECTION, limits, signedIds),
    )
    const results = await Promise.all(runs).finally(() => (fuzzing = false))
    const rounds = await wellBehaved

    // Frames that end their connection by design, each on its own connection.
    const closes: Record<string, number[]> = { binary: [], utf8: [], oversize: [] }
    for (let i = 0; i < THROWAWAY_ROUNDS; i++) {
      const [binary, utf8, oversize] = await Promise.all([
        closeCodeAfter(t.url, (ws) => ws.send(randomBytes(rng, 1 + rng.int(300)), { binary: true })),
        closeCodeAfter(t.url, (ws) => ws.send(invalidUtf8(rng), { binary: false })),
        closeCodeAfter(t.url, (ws) => ws.send('x'.repeat(2 * limits.maxMessageBytes + 1 + rng.int(1000)))),
        // A first byte no HTTP method starts with, so the parser fails at once rather than wait for more.
        rawTcpDropped(t.port, Uint8Array.from([0x80 + rng.int(128), ...randomBytes(rng, rng.int(200))]), false),
        rawTcpDropped(t.port, Uint8Array.from([0x81, 0x7f, ...randomBytes(rng, 20)]), true),
      ])
      closes.binary.push(binary)
      closes.utf8.push(utf8)
      closes.oversize.push(oversize)
    }

    // After all that: a fresh client publishes and reads back, and the old one still works.
    const fresh = await connectClient(t.url)
    await roundTrip(fresh, -1)
    await roundTrip(client, -2)
    fresh.close()
    client.close()

    const frames = results.reduce((n, r) => n + r.frames, 0) + THROWAWAY_ROUNDS * 5
    const expected = results.reduce((n, r) => n + r.expected, 0)
    const answers: Record<string, number> = {}
    for (const r of results) for (const [verb, n] of Object.entries(r.answers)) answers[verb] = (answers[verb] ?? 0) + n
    const terminal = ['OK', 'NOTICE', 'EOSE', 'CLOSED', 'COUNT', 'NEG-MSG', 'NEG-ERR'].reduce((n, v) => n + (answers[v] ?? 0), 0)
    console.log(
      `fuzz seed ${SEED}: ${frames} frames (${THROWAWAY_ROUNDS * 5} on throwaway connections), ${expected} deserved an answer; ` +
        `answers ${JSON.stringify(answers)}; well-behaved round trips during the fuzz: ${rounds}`,
    )

    expect(frames).toBeGreaterThanOrEqual(100_000)
    expect(results.flatMap((r) => r.unexpected)).toEqual([])
    expect(terminal).toBe(expected)
    // Every kind of answer actually happened, so no branch went unexercised.
    for (const verb of ['OK', 'NOTICE', 'EOSE', 'CLOSED', 'COUNT']) expect(answers[verb]).toBeGreaterThan(100)
    expect(closes.binary.every((c) => c === 1003)).toBe(true)
    expect(closes.utf8.every((c) => c === 1007)).toBe(true)
    expect(closes.oversize.every((c) => c === 1009)).toBe(true)
    expect(rounds).toBeGreaterThan(0)
    expect(live).toEqual(goodEvents.map((e) => e.id))
    expect(t.errors).toEqual([])
  }, 60_000)
})
