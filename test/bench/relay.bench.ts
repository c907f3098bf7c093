/**
 * The relay, measured end to end over WebSocket. Run: npm run bench:relay [-- options]
 * (npx tsx test/bench/relay.bench.ts --events 40000 --stored 1000000 --live 100000
 *  --subscribers 200,5000 --rounds 50 --fanout-warmup 20 --queries 1000 --threads 2
 *  --warmup-events 5000)
 *
 * The relay runs as a child process (`relaycast relay --port 0` on 127.0.0.1, a temp data dir,
 * rate limits lifted), so this load generator never shares its event loop. Figures:
 *  - ingest: pre-signed events (signed in worker threads before the clock starts), 4 connections
 *    × 200 EVENTs in flight, the next one sent on each OK; every OK must be true. The first
 *    `warmup-events` go before the clock starts, so the figure is the relay's steady state, not
 *    V8 compiling its hot paths (a relay runs for days); their own rate is printed beside it;
 *  - REQ latency (send → EOSE) by author and by #t, limit 100, at half the ingest (20k) and on a
 *    bulk store (1M: written straight into a data dir with the LMDB store's eventBatch before the
 *    relay starts: well-shaped events with random ids and signatures, which reads never check);
 *  - fan-out: N connections each with a REQ for one stream's chat; one EVENT published; time until
 *    all N have it (the load generator's own receive time included), over `rounds` events after
 *    `fanout-warmup` untimed ones (the first few run both processes' fan-out paths cold, at 2–4×
 *    the steady figure; their p50 is printed beside it);
 *  - live-now `{"kinds":[30311],"#status":["live"],"limit":50}` with `live` 30311s in the bulk store;
 *  - the relay's RSS (VmRSS, VmHWM) from /proc;
 *  - on the same run, the machine's ceilings: raw lmdb-js puts of the same size (durable, 500 per
 *    transaction) and a bare ws echo server (own process) under the same 4 × 200 pattern; and
 *    the rate at which the events were signed beforehand, as a plain measure of CPU speed.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { closeSync, fsyncSync, mkdtempSync, openSync, readdirSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { open } from 'lmdb'
import type WebSocket from 'ws'
import { KIND_LIVE_CHAT, KIND_LIVE_EVENT } from '../../protocol/kinds.ts'
import type { NostrEvent } from '../../protocol/types.ts'
import { LMDB_DIR } from '../../relay/relay.ts'
import { createLmdbStore } from '../../relay/store/lmdb-store.ts'
import { NO_RATE_LIMITS, startRelayProcess } from '../relay/relay-process.ts'
import type { RelayProcess } from '../relay/relay-process.ts'
import { AUTHORS, HASHTAGS, STREAMS, makeBulkEvents, makeLiveEvents, makeTemplate, randomHex } from './bench-events.ts'
import { generateKeys, presign } from './presign.ts'
import type { SignJob } from './presign.ts'
import { readThreadCpu, splitCpu } from './thread-cpu.ts'
import type { CpuSplit } from './thread-cpu.ts'
import { isVerb, openSocket, openSockets, percentile, pipelined, reqLatencies } from './ws-load.ts'

const { values: opts } = parseArgs({
  options: {
    events: { type: 'string', default: '40000' },
    stored: { type: 'string', default: '1000000' },
    live: { type: 'string', default: '100000' },
    subscribers: { type: 'string', default: '200,5000' },
    rounds: { type: 'string', default: '50' },
    'fanout-warmup': { type: 'string', default: '20' },
    queries: { type: 'string', default: '1000' },
    threads: { type: 'string', default: String(Math.max(1, cpus().length)) },
    'warmup-events': { type: 'string', default: '5000' },
  },
})
const EVENTS = Number(opts.events)
const STORED = Number(opts.stored)
const LIVE = Math.min(Number(opts.live), STORED)
const SUBSCRIBERS = opts.subscribers.split(',').map(Number)
const ROUNDS = Number(opts.rounds)
const FANOUT_WARMUP = Number(opts['fanout-warmup'])
const QUERIES = Number(opts.queries)
const THREADS = Number(opts.threads)
// Of the ingest set, never more than the part before the first REQ figures.
const WARMUP_EVENTS = Math.min(Number(opts['warmup-events']), Math.floor(EVENTS / 2))
const CONNECTIONS = 4
const IN_FLIGHT = 200
const WARMUP = 50
const LMDB_BATCH = 500
/** Events per transaction when writing the bulk store: bigger batches rewrite fewer B-tree pages. */
const BULK_BATCH = 25_000
/** One 30311 in this many is live. */
const LIVE_EVERY = 100

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US')
const ms = (n: number): string => `${n < 10 ? n.toFixed(2) : n.toFixed(1)} ms`
const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MiB`
const progress = (line: string): void => void process.stderr.write(`  … ${line}\n`)

const tmp = mkdtempSync(join(tmpdir(), 'relaycast-relay-bench-'))
const children = new Set<ChildProcess>()
function cleanUp(): void {
  for (const child of children) child.kill('SIGKILL')
  rmSync(tmp, { recursive: true, force: true })
}
process.once('SIGINT', () => {
  cleanUp()
  process.exit(130)
})
/** The whole run is bounded: past this, stop with what was measured so far left unprinted. */
const MAX_RUN_MS = 12 * 60_000
setTimeout(() => {
  console.error(`relay bench: still running after ${MAX_RUN_MS / 60_000} minutes; stopping (the machine is too busy for these sizes)`)
  cleanUp()
  process.exit(1)
}, MAX_RUN_MS).unref()

async function relayIn(dir: string): Promise<RelayProcess> {
  const relay = await startRelayProcess(dir, NO_RATE_LIMITS)
  children.add(relay.child)
  void relay.exited.then(({ code, signal }) => {
    children.delete(relay.child)
    // A stop ends with code 0 and cleanUp with SIGKILL; anything else is the relay failing.
    if (code !== 0 && signal !== 'SIGKILL') progress(`relay exited (code ${code}, signal ${signal}); its last output:\n${lastOutput(relay)}`)
  })
  return relay
}

const lastOutput = (relay: RelayProcess): string => relay.output().slice(-2000) || '(none)'

/** Runs a load step; if it fails, the error carries what the relay said last. */
async function watching<T>(relay: RelayProcess, step: Promise<T>): Promise<T> {
  try {
    return await step
  } catch (err) {
    throw new Error(`${(err as Error).message}\nrelay's last output:\n${lastOutput(relay)}`, { cause: err })
  }
}

/** The echo server as its own process; resolves with its URL. */
function startEcho(): Promise<{ url: string; child: ChildProcess }> {
  const entry = fileURLToPath(new URL('./echo-server.ts', import.meta.url))
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), entry], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.add(child)
  child.once('exit', () => children.delete(child))
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const m = /listening on (ws:\/\/\S+)/.exec(out)
      if (m) resolve({ url: m[1], child })
    })
    child.once('exit', (code) => reject(new Error(`echo server exited (${code}): ${out}`)))
  })
}

/** Raw lmdb-js: `count` durable puts of `bytes`-byte values, LMDB_BATCH per transaction. */
async function rawLmdbPuts(count: number, bytes: number): Promise<number> {
  const env = open({ path: join(tmp, 'raw-lmdb'), maxDbs: 2 })
  const db = env.openDB({ name: 'raw', encoding: 'string' })
  const value = 'x'.repeat(bytes)
  const keys = randomHex(count, 32)
  const start = performance.now()
  for (let b = 0; b < count; b += LMDB_BATCH) {
    await env.transaction(() => {
      for (let i = b; i < Math.min(count, b + LMDB_BATCH); i++) db.putSync(keys[i], value)
    })
    await env.flushed
  }
  const rate = count / ((performance.now() - start) / 1000)
  await env.close()
  return rate
}

/** Splits frames round-robin over the connections. */
const deal = (frames: string[]): string[][] => Array.from({ length: CONNECTIONS }, (_, c) => frames.filter((_, i) => i % CONNECTIONS === c))

/** Publishes `frames` over the sockets (4 × 200 in flight); every OK must be true. */
async function ingest(sockets: WebSocket[], frames: string[]): Promise<number> {
  const refused: string[] = []
  const seconds = await pipelined(sockets, deal(frames), IN_FLIGHT, (d) => isVerb(d, 'OK'), (d) => {
    const ok = JSON.parse(d.toString()) as [string, string, boolean, string]
    if (ok[2] !== true) refused.push(`${ok[1]}: ${ok[3]}`)
  })
  if (refused.length > 0) throw new Error(`${refused.length} events refused, e.g. ${refused.slice(0, 3).join('; ')}`)
  return seconds
}

interface Latency {
  p50: number
  p99: number
  results: number
}

/** REQ latency over QUERIES requests (after a warm-up) made by `filter(i)`. */
async function latency(url: string, filter: (i: number) => object): Promise<Latency> {
  const ws = await openSocket(url)
  const reqs = (n: number, from: number): string[] => Array.from({ length: n }, (_, i) => JSON.stringify(['REQ', 'q', filter(from + i)]))
  await reqLatencies(ws, reqs(WARMUP, QUERIES), 'q')
  const { ms, events } = await reqLatencies(ws, reqs(QUERIES, 0), 'q')
  ws.close()
  return { p50: percentile(ms, 50), p99: percentile(ms, 99), results: events / QUERIES }
}

interface FanOut {
  subscribers: number
  p50: number
  p99: number
  okP50: number
  /** First subscriber's copy to the last one's: the fan-out alone, without the commit before it. */
  spreadP50: number
  /** send → all have it over the untimed events before: the cold figure. */
  warmupP50: number
}

/**
 * `n` connections subscribe to one stream's chat; each of `warmup`, then of `events`, is published
 * and timed until all n have it. Only `events` make the figure.
 */
async function fanOut(url: string, n: number, warmup: NostrEvent[], events: NostrEvent[], coordinate: string): Promise<FanOut> {
  const subs = await openSockets(url, n)
  const req = JSON.stringify(['REQ', 'chat', { kinds: [KIND_LIVE_CHAT], '#a': [coordinate], limit: 0 }])
  let received = 0
  let firstAt = 0
  let wrong = 0
  let expectId = ''
  let allIn: (() => void) | undefined
  await Promise.all(
    subs.map(
      (ws) =>
        new Promise<void>((resolve) => {
          ws.on('message', (data: Buffer) => {
            if (isVerb(data, 'EOSE')) return resolve()
            if (!isVerb(data, 'EVENT')) return
            if (data.indexOf(expectId) < 0) wrong++
            if (++received === 1) firstAt = performance.now()
            if (received === n) allIn?.()
          })
          ws.send(req)
        }),
    ),
  )
  const publisher = await openSocket(url)
  const times: number[] = []
  const okTimes: number[] = []
  const spreads: number[] = []
  let warmupP50 = Number.NaN
  for (const [i, event] of [...warmup, ...events].entries()) {
    if (i === warmup.length && i > 0) {
      warmupP50 = percentile(times, 50)
      times.length = okTimes.length = spreads.length = 0
    }
    received = 0
    expectId = event.id
    const start = performance.now()
    const delivered = new Promise<void>((resolve) => (allIn = resolve)).then(() => {
      const at = performance.now()
      times.push(at - start)
      spreads.push(at - firstAt)
    })
    const ok = new Promise<void>((resolve, reject) => {
      publisher.on('message', function onOk(data: Buffer) {
        if (!isVerb(data, 'OK')) return
        publisher.off('message', onOk)
        if (data.indexOf('",true,') < 0) reject(new Error(`publish refused: ${data.toString()}`))
        okTimes.push(performance.now() - start)
        resolve()
      })
    })
    publisher.send(JSON.stringify(['EVENT', event]))
    await Promise.all([delivered, ok])
  }
  if (wrong > 0) throw new Error(`${wrong} subscribers got the wrong event`)
  publisher.close()
  for (const ws of subs) ws.terminate()
  return { subscribers: n, p50: percentile(times, 50), p99: percentile(times, 99), okP50: percentile(okTimes, 50), spreadP50: percentile(spreads, 50), warmupP50 }
}

/** Writes the bulk store: STORED − LIVE events of the mix, then LIVE 30311s. */
async function loadBulk(dir: string, authors: string[], hosts: string[]): Promise<number> {
  const store = await createLmdbStore({ path: join(dir, LMDB_DIR), noSync: true })
  const newest = Math.floor(Date.now() / 1000) - 60
  const regular = STORED - LIVE
  const start = performance.now()
  let next = 0
  const report = (done: number): void => {
    if (done >= next) {
      progress(`bulk store: ${fmt(done)} of ${fmt(STORED)} written`)
      next += 200_000
    }
  }
  for (let i = 0; i < regular; i += BULK_BATCH) {
    await store.eventBatch(makeBulkEvents(i, Math.min(regular, i + BULK_BATCH), authors, newest))
    report(i)
  }
  for (let i = 0; i < LIVE; i += BULK_BATCH) {
    await store.eventBatch(makeLiveEvents(i, Math.min(LIVE, i + BULK_BATCH), hosts, newest, LIVE_EVERY))
    report(regular + i)
  }
  const rate = STORED / ((performance.now() - start) / 1000)
  const stats = store.stats()
  progress(`bulk store: ${fmt(stats.events)} events, ${fmt(stats.indexKeys)} index keys, ${mib(stats.bytes)}, ${fmt(rate)} events/s (noSync)`)
  await store.close()
  // Written without fsync: flush it now, or the kernel writes 2 GB back while REQs are timed.
  for (const file of readdirSync(join(dir, LMDB_DIR))) {
    const fd = openSync(join(dir, LMDB_DIR, file), 'r+')
    fsyncSync(fd)
    closeSync(fd)
  }
  return stats.events
}

// ---------------------------------------------------------------------------------------------

console.log(`relay bench: ${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
const rows: [string, string, string][] = []
const row = (what: string, value: string, note = ''): void => void rows.push([what, value, note])

try {
  // Sign everything first: the ingest set, then one chat event per fan-out round per size.
  const keys = generateKeys(AUTHORS)
  const hosts = keys.pubkeys.slice(0, STREAMS)
  const now = Math.floor(Date.now() / 1000)
  const fanoutCoordinate = `${KIND_LIVE_EVENT}:${hosts[0]}:fan-out`
  const jobs: SignJob[] = Array.from({ length: EVENTS }, (_, i) => ({ key: i % AUTHORS, template: makeTemplate(i, now - EVENTS + i, hosts) }))
  const perSize = FANOUT_WARMUP + ROUNDS
  const fanoutCount = perSize * SUBSCRIBERS.length
  for (let i = 0; i < fanoutCount; i++) {
    jobs.push({ key: (i * 13) % AUTHORS, template: { kind: KIND_LIVE_CHAT, created_at: now, tags: [['a', fanoutCoordinate, '', 'root']], content: `fan-out ${i}: gg` } })
  }
  const start = performance.now()
  const { events: signed, perThreadRate: signRate } = await presign(keys, jobs, THREADS)
  progress(`signed ${fmt(signed.length)} events in ${((performance.now() - start) / 1000).toFixed(1)} s on ${THREADS} threads`)
  const events = signed.slice(0, EVENTS)
  const fanoutEvents = signed.slice(EVENTS)
  const frames = events.map((e) => JSON.stringify(['EVENT', e]))
  const avgBytes = Math.round(frames.reduce((n, f) => n + f.length, 0) / frames.length)

  // The machine's ceilings.
  const lmdbRate = await rawLmdbPuts(EVENTS, avgBytes)
  progress(`raw lmdb: ${fmt(lmdbRate)} puts/s`)
  const echo = await startEcho()
  const echoSockets = await openSockets(echo.url, CONNECTIONS)
  const echoRate = EVENTS / (await pipelined(echoSockets, deal(frames), IN_FLIGHT, () => true))
  echoSockets.forEach((ws) => ws.close())
  echo.child.kill('SIGTERM')
  progress(`ws echo: ${fmt(echoRate)} frames/s`)

  // Relay 1: ingest, REQ at half of it, fan-out.
  const relay = await relayIn(join(tmp, 'ingest'))
  const sockets = await openSockets(relay.url, CONNECTIONS)
  const half = Math.floor(EVENTS / 2)
  // CPU per event over both ingest halves (not the queries between them).
  const cpu = { main: 0, worker: 0, rest: 0, loadgen: 0 }
  const timed = async (part: string[]): Promise<number> => {
    const before = readThreadCpu(relay.pid)
    const mine = process.cpuUsage()
    const seconds = await watching(relay, ingest(sockets, part))
    const used = process.cpuUsage(mine)
    const split: CpuSplit = splitCpu(relay.pid, before, readThreadCpu(relay.pid))
    cpu.main += split.main
    cpu.worker += split.worker
    cpu.rest += split.rest
    cpu.loadgen += (used.user + used.system) / 1000
    return seconds
  }
  const warmSeconds = WARMUP_EVENTS > 0 ? await watching(relay, ingest(sockets, frames.slice(0, WARMUP_EVENTS))) : 0
  const warmRate = WARMUP_EVENTS / Math.max(warmSeconds, 1e-9)
  progress(`ingest: ${fmt(WARMUP_EVENTS)} warm-up events at ${fmt(warmRate)} events/s (untimed)`)
  const first = await timed(frames.slice(WARMUP_EVENTS, half))
  progress(`ingest: up to ${fmt(half)} in ${first.toFixed(2)} s`)
  const byAuthorSmall = await latency(relay.url, (i) => ({ authors: [keys.pubkeys[i % AUTHORS]], limit: 100 }))
  const byTagSmall = await latency(relay.url, (i) => ({ '#t': [HASHTAGS[i % HASHTAGS.length]], limit: 100 }))
  const second = await timed(frames.slice(half))
  sockets.forEach((ws) => ws.close())
  const timedEvents = EVENTS - WARMUP_EVENTS
  const ingestRate = timedEvents / (first + second)
  progress(`ingest: ${fmt(ingestRate)} events/s`)
  const backend = /signatures checked with ([^\n]+)/.exec(relay.output())?.[1] ?? 'unknown'
  const afterIngest = relay.memory()
  const fanouts: FanOut[] = []
  for (const [k, n] of SUBSCRIBERS.entries()) {
    const mine = fanoutEvents.slice(k * perSize, (k + 1) * perSize)
    fanouts.push(await fanOut(relay.url, n, mine.slice(0, FANOUT_WARMUP), mine.slice(FANOUT_WARMUP), fanoutCoordinate))
    progress(`fan-out to ${fmt(n)}: p50 ${ms(fanouts[k].p50)}`)
  }
  const withSubscribers = relay.memory()
  await relay.stop()

  // Relay 2: the bulk store.
  const bulkDir = join(tmp, 'bulk')
  const bulkAuthors = generateKeys(AUTHORS).pubkeys
  // Live events come from many hosts (2000), each with many shows: every one its own address.
  const stored = await loadBulk(bulkDir, bulkAuthors, randomHex(2000, 32))
  const bulk = await relayIn(bulkDir)
  const byAuthorBig = await latency(bulk.url, (i) => ({ authors: [bulkAuthors[i % AUTHORS]], limit: 100 }))
  const byTagBig = await latency(bulk.url, (i) => ({ '#t': [HASHTAGS[i % HASHTAGS.length]], limit: 100 }))
  const liveNow = await latency(bulk.url, () => ({ kinds: [KIND_LIVE_EVENT], '#status': ['live'], limit: 50 }))
  const bulkMemory = bulk.memory()
  await bulk.stop()

  // The table.
  const vs = (rate: number, limit: number): string => `${((rate / limit) * 100).toFixed(0)}%`
  const small = `${fmt(half)} stored`
  const big = `${fmt(stored)} stored`
  const lat = (l: Latency): string => `p50 ${ms(l.p50)}  p99 ${ms(l.p99)}`
  // Pure CPU, nothing else running: this VM's speed drifts by up to 2× between runs, and this row shows which kind of run it was.
  row('machine: signing events, one thread', `${fmt(signRate)} /s`, `nostr-wasm, ${THREADS} worker threads before anything else starts`)
  row('machine: raw lmdb-js puts', `${fmt(lmdbRate)} /s`, `${avgBytes} B values, durable, ${LMDB_BATCH} per txn`)
  row('machine: ws echo, 4 × 200 in flight', `${fmt(echoRate)} /s`, 'bare ws server, own process, same frames')
  row(
    `ingest, ${fmt(timedEvents)} signed events`,
    `${fmt(ingestRate)} ev/s`,
    `${vs(ingestRate, echoRate)} of ws echo, ${vs(ingestRate, lmdbRate)} of lmdb puts; all OK true (durable); after ${fmt(WARMUP_EVENTS)} untimed (${fmt(warmRate)} ev/s); signatures: ${backend}`,
  )
  const us = (msTotal: number): string => `${((msTotal * 1000) / timedEvents).toFixed(0)}`
  const relayCpu = cpu.main + cpu.worker + cpu.rest
  row(
    'ingest, CPU per event',
    `relay ${us(relayCpu)} µs`,
    `main thread ${us(cpu.main)}, verify thread ${us(cpu.worker)}, other threads ${us(cpu.rest)} (GC, LMDB commits); load generator ${us(cpu.loadgen)} µs`,
  )
  row(`REQ by author, limit 100, ${small}`, lat(byAuthorSmall), `${byAuthorSmall.results.toFixed(0)} events each`)
  row(`REQ by #t, limit 100, ${small}`, lat(byTagSmall), `${byTagSmall.results.toFixed(0)} events each`)
  row(`REQ by author, limit 100, ${big}`, lat(byAuthorBig), `${byAuthorBig.results.toFixed(0)} events each`)
  row(`REQ by #t, limit 100, ${big}`, lat(byTagBig), `${byTagBig.results.toFixed(0)} events each`)
  for (const f of fanouts) {
    row(
      `fan-out to ${fmt(f.subscribers)} subscribers`,
      `p50 ${ms(f.p50)}  p99 ${ms(f.p99)}`,
      `send → all have it; first → last copy p50 ${ms(f.spreadP50)}; send → OK p50 ${ms(f.okP50)}${FANOUT_WARMUP > 0 ? `; the ${FANOUT_WARMUP} untimed before: p50 ${ms(f.warmupP50)}` : ''}`,
    )
  }
  row(`live-now, ${fmt(LIVE)} × 30311 in ${big}`, lat(liveNow), `${liveNow.results.toFixed(0)} events each (limit 50)`)
  row('relay RSS after ingest', mib(afterIngest.rss), `peak ${mib(afterIngest.peak)}`)
  row(`relay RSS, ${fmt(Math.max(...SUBSCRIBERS))} subscribers connected`, mib(withSubscribers.rss), `peak ${mib(withSubscribers.peak)}`)
  row(`relay RSS after queries on ${big}`, mib(bulkMemory.rss), `peak ${mib(bulkMemory.peak)}; includes LMDB pages mapped from the page cache`)

  const w0 = Math.max(...rows.map((r) => r[0].length))
  const w1 = Math.max(...rows.map((r) => r[1].length))
  console.log(`\n${'what'.padEnd(w0)}  ${'figure'.padEnd(w1)}  notes`)
  for (const [what, value, note] of rows) console.log(`${what.padEnd(w0)}  ${value.padEnd(w1)}  ${note}`)
  console.log(`\n${QUERIES} queries per REQ figure after ${WARMUP} warm-up; ${ROUNDS} events per fan-out figure after ${FANOUT_WARMUP} warm-up; REQ = send → EOSE on one connection.`)
  console.log(`bulk store written with eventBatch (noSync) before the relay started: ${fmt(STORED - LIVE)} chat/notes + ${fmt(LIVE)} × 30311 (1 in ${LIVE_EVERY} live).`)
  console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (other work on this machine skews every figure)`)
} finally {
  cleanUp()
}
