/**
 * Honest OK, proven the hard way: the relay runs as a child process, a client streams signed
 * events with many in flight, and the relay is killed with SIGKILL right after the Nth OK, while
 * more events are being verified, batched and committed. After a restart on the same data
 * directory, every event that was answered `OK true` must be there. Two rounds, so the second
 * kill also hits a database that has already survived one.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createKeySigner, generateSecretKey } from '../protocol/keys.ts'
import { KIND_LIVE_CHAT, KIND_LIVE_EVENT, KIND_TEXT_NOTE } from '../protocol/kinds.ts'
import type { Filter, NostrEvent } from '../protocol/types.ts'
import { NO_RATE_LIMITS, startRelayProcess } from '../test/relay/relay-process.ts'
import type { RelayProcess } from '../test/relay/relay-process.ts'

const ROUNDS = 2
/** Enough for the kill to land with IN_FLIGHT unanswered (sending stops at the kill). */
const EVENTS_PER_ROUND = 800
/** The kill comes right after this many OKs in a round… */
const KILL_AFTER_OKS = 300
/** …while this many more are on their way (sent, not yet answered). */
const IN_FLIGHT = 200
/** Ids per filter when reading back (under the relay's 1000 values per filter). */
const IDS_PER_FILTER = 500

function signEvents(count: number, round: number): NostrEvent[] {
  const signers = Array.from({ length: 10 }, () => createKeySigner(generateSecretKey()))
  const t = Math.floor(Date.now() / 1000)
  return Array.from({ length: count }, (_, i) =>
    signers[i % signers.length](
      i % 2
        ? { kind: KIND_TEXT_NOTE, created_at: t - i, tags: [['t', 'crash']], content: `round ${round} note ${i} ${'lorem ipsum '.repeat(10)}` }
        : { kind: KIND_LIVE_CHAT, created_at: t - i, tags: [['a', `${KIND_LIVE_EVENT}:${'0'.repeat(64)}:crash`, '', 'root']], content: `round ${round} chat ${i}` },
    ),
  )
}

interface Streamed {
  /** Ids the relay answered OK true before it died (including OKs that arrive after the kill signal). */
  acked: string[]
  /** EVENTs sent but not answered when the kill was sent. */
  inFlightAtKill: number
  refused: string[]
}

/** Streams `events` with IN_FLIGHT unanswered, and SIGKILLs the relay on the KILL_AFTER_OKS-th OK. */
function streamUntilKilled(relay: RelayProcess, events: NostrEvent[]): Promise<Streamed> {
  const ws = new WebSocket(relay.url)
  const out: Streamed = { acked: [], inFlightAtKill: 0, refused: [] }
  let sent = 0
  let answered = 0
  const sendNext = (): void => {
    if (sent < events.length) ws.send(JSON.stringify(['EVENT', events[sent++]]))
  }
  ws.on('error', () => undefined) // the relay dying under us is the point
  ws.once('open', () => {
    for (let i = 0; i < IN_FLIGHT; i++) sendNext()
  })
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString()) as unknown[]
    if (msg[0] !== 'OK') return
    answered++
    if (msg[2] === true) out.acked.push(msg[1] as string)
    else out.refused.push(`${String(msg[1])}: ${String(msg[3])}`)
    if (out.acked.length === KILL_AFTER_OKS) {
      out.inFlightAtKill = sent - answered
      relay.child.kill('SIGKILL')
      return
    }
    sendNext()
  })
  return new Promise((resolve) => ws.once('close', () => resolve(out)))
}

/** The ids among `ids` that the relay has, read back IDS_PER_FILTER at a time. */
async function storedIds(url: string, ids: string[]): Promise<Set<string>> {
  const ws = new WebSocket(url)
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
  const found = new Set<string>()
  for (let i = 0; i < ids.length; i += IDS_PER_FILTER) {
    const subId = `read-${i}`
    const filter: Filter = { ids: ids.slice(i, i + IDS_PER_FILTER), limit: IDS_PER_FILTER }
    await new Promise<void>((resolve, reject) => {
      ws.on('message', function onMessage(data) {
        const msg = JSON.parse(data.toString()) as unknown[]
        if (msg[1] !== subId) return
        if (msg[0] === 'EVENT') found.add((msg[2] as NostrEvent).id)
        if (msg[0] === 'CLOSED') reject(new Error(`read refused: ${String(msg[2])}`))
        if (msg[0] !== 'EOSE') return
        ws.off('message', onMessage)
        resolve()
      })
      ws.send(JSON.stringify(['REQ', subId, filter]))
    })
  }
  ws.close()
  return found
}

describe('crash safety (relay as a child process)', () => {
  let dataDir: string | undefined
  let running: RelayProcess | undefined

  afterAll(async () => {
    await running?.kill()
    if (dataDir) await rm(dataDir, { recursive: true, force: true })
  })

  it(`kill -9 while ingesting, ${ROUNDS} times: after a restart every OK-true event is there`, async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'relaycast-crash-'))
    const acked: string[] = []
    const sent: string[] = []
    for (let round = 0; round < ROUNDS; round++) {
      const events = signEvents(EVENTS_PER_ROUND, round)
      sent.push(...events.map((e) => e.id))
      running = await startRelayProcess(dataDir, NO_RATE_LIMITS)
      const streamed = await streamUntilKilled(running, events)
      const exit = await running.exited
      running = undefined

      expect(exit.signal).toBe('SIGKILL')
      expect(streamed.refused).toEqual([])
      // OKs already on the wire when the kill landed count too: each one promised a commit.
      expect(streamed.acked.length).toBeGreaterThanOrEqual(KILL_AFTER_OKS)
      // The kill must land mid-ingest, or it proves nothing.
      expect(streamed.inFlightAtKill).toBeGreaterThan(IN_FLIGHT / 2)
      acked.push(...streamed.acked)
      console.log(`crash round ${round + 1}: killed after ${streamed.acked.length} OKs with ${streamed.inFlightAtKill} events in flight`)
    }

    running = await startRelayProcess(dataDir, NO_RATE_LIMITS)
    const found = await storedIds(running.url, sent)
    const lost = acked.filter((id) => !found.has(id))
    expect(lost).toEqual([])
    console.log(`after restart: all ${acked.length} OK-true events are there, and ${found.size - acked.length} committed but not yet answered`)
    // Sanity of the read-back itself: nothing appears that was never sent.
    expect([...found].every((id) => sent.includes(id))).toBe(true)
    const exit = await running.stop()
    running = undefined
    expect(exit.code).toBe(0)
  }, 60_000)
})
