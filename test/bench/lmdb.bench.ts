/**
 * The relay's LMDB store, measured. Run: npx tsx test/bench/lmdb.bench.ts [events]
 *
 * 1. Raw lmdb-js: plain puts of ~500-byte values, batched in transactions (the ceiling).
 * 2. Our eventBatch ingest of pre-built events (no signature work): replacement and deletion
 *    rules, every index key, one transaction per batch, durable commit (fsync) before resolving.
 * 3. Query latency at N events (default 20k): by author and by #t with limit 100, the live-now
 *    query, and count. queryRaw is what the relay sends (stored JSON, no parse).
 *
 * Events are a live-stream mix: chat (1311 with an `a` tag), notes with hashtags, presence
 * (10312, replaceable), live events (30311, addressable, with status). ~500 bytes of JSON each.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { open } from 'lmdb'
import { KIND_LIVE_CHAT, KIND_LIVE_EVENT, KIND_PRESENCE, KIND_TEXT_NOTE } from '../../protocol/kinds.ts'
import type { NostrEvent } from '../../protocol/types.ts'
import { createLmdbStore } from '../../relay/store/lmdb-store.ts'

const N = Number(process.argv[2] ?? 20_000)
const BATCH = 500
const AUTHORS = 200
const HASHTAGS = ['music', 'gaming', 'irl', 'art', 'coding', 'talk', 'sports', 'news', 'science', 'travel']
const T0 = 1_750_000_000

const hex = (bytes: number): string => randomBytes(bytes).toString('hex')
const authors = Array.from({ length: AUTHORS }, () => hex(32))
const streams = authors.slice(0, 20).map((pk, i) => `${KIND_LIVE_EVENT}:${pk}:stream-${i}`)
const words = 'the stream looks great tonight can you turn the music down a bit haha gg nice play chat is wild hello from berlin'.split(' ')
const text = (i: number, length: number): string => {
  let s = `#${i} `
  while (s.length < length) s += words[(i * 7 + s.length) % words.length] + ' '
  return s.trim()
}

function makeEvent(i: number): NostrEvent {
  const pubkey = authors[(i * 7919) % AUTHORS]
  const created_at = T0 + i
  const base = { id: hex(32), pubkey, created_at, sig: hex(64) }
  switch (i % 10) {
    case 0:
    case 1:
    case 2: // notes with hashtags
      return { ...base, kind: KIND_TEXT_NOTE, tags: [['t', HASHTAGS[i % HASHTAGS.length]], ['t', HASHTAGS[(i >> 3) % HASHTAGS.length]]], content: text(i, 200) }
    case 3: // presence, replaceable per viewer
      return { ...base, kind: KIND_PRESENCE, tags: [['a', streams[i % streams.length]]], content: '' }
    case 4: {
      // live event updates, addressable per streamer
      const s = i % streams.length
      return {
        ...base,
        pubkey: authors[s],
        kind: KIND_LIVE_EVENT,
        tags: [['d', `stream-${s}`], ['title', text(i, 40)], ['status', i % 3 ? 'live' : 'ended'], ['t', HASHTAGS[s % HASHTAGS.length]], ['streaming', 'https://example.com/hls/master.m3u8']],
        content: '',
      }
    }
    default: // chat
      return { ...base, kind: KIND_LIVE_CHAT, tags: [['a', streams[i % streams.length], 'wss://relay.example.com', 'root']], content: text(i, 150) }
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US')
const us = (ms: number): string => `${(ms * 1000).toFixed(0)} µs`

async function rawPuts(count: number, noSync: boolean): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'relaycast-bench-raw-'))
  try {
    const env = open({ path: dir, maxDbs: 2, noSync })
    const db = env.openDB({ name: 'raw', encoding: 'string' })
    const value = 'x'.repeat(500)
    const keys = Array.from({ length: count }, () => hex(32))
    const start = performance.now()
    for (let b = 0; b < count; b += BATCH) {
      await env.transaction(() => {
        for (let i = b; i < Math.min(count, b + BATCH); i++) db.putSync(keys[i], value)
      })
      if (!noSync) await env.flushed
    }
    const seconds = (performance.now() - start) / 1000
    await env.close()
    return count / seconds
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Ingests in batches of BATCH with up to `inFlight` batches queued (the relay's writer pipelines). */
async function ingest(events: NostrEvent[], noSync: boolean, inFlight: number) {
  const dir = mkdtempSync(join(tmpdir(), 'relaycast-bench-store-'))
  const store = await createLmdbStore({ path: dir, noSync, now: () => T0 })
  const start = performance.now()
  const pending = new Set<Promise<unknown>>()
  for (let b = 0; b < events.length; b += BATCH) {
    const p: Promise<unknown> = store.eventBatch(events.slice(b, b + BATCH)).then(() => pending.delete(p))
    pending.add(p)
    if (pending.size >= inFlight) await Promise.race(pending)
  }
  await Promise.all(pending)
  const rate = events.length / ((performance.now() - start) / 1000)
  return { rate, store, dir }
}

async function discard(run: { store: { close(): Promise<void> }; dir: string }): Promise<void> {
  await run.store.close()
  rmSync(run.dir, { recursive: true, force: true })
}

console.log(`lmdb store bench: ${fmt(N)} events, batches of ${BATCH}, ${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, Node ${process.version}`)
const events = Array.from({ length: N }, (_, i) => makeEvent(i))
const avgBytes = events.reduce((n, e) => n + JSON.stringify(e).length, 0) / N
console.log(`  average event JSON: ${avgBytes.toFixed(0)} bytes`)

console.log('\ningest (events/s; durable = fsync before the batch resolves)')
console.log(`  raw lmdb putSync, 500-byte values, durable      ${fmt(await rawPuts(N, false)).padStart(9)} puts/s`)
console.log(`  raw lmdb putSync, 500-byte values, noSync       ${fmt(await rawPuts(N, true)).padStart(9)} puts/s`)
for (const [label, noSync, inFlight] of [
  ['eventBatch, noSync, one batch at a time    ', true, 1],
  ['eventBatch, durable, one batch at a time   ', false, 1],
  ['eventBatch, durable, 4 batches in flight   ', false, 4],
] as const) {
  const r = await ingest(events, noSync, inFlight)
  console.log(`  ${label}      ${fmt(r.rate).padStart(9)} events/s`)
  await discard(r)
}
const run = await ingest(events, false, 4)
const stats = run.store.stats()
console.log(`  kept ${fmt(stats.events)} of ${fmt(N)} (newer presence / live-event versions replace older ones); ` +
  `${fmt(stats.indexKeys)} index keys; ${(stats.bytes / 1024 / 1024).toFixed(1)} MiB on disk`)

const store = run.store

/** Latency of one awaited call (queries run synchronously inside), after a warm-up. */
async function latencyAsync(name: string, runs: number, make: (i: number) => Promise<unknown[] | number>) {
  const times: number[] = []
  let results = 0
  for (let i = 0; i < 50; i++) await make(i)
  for (let i = 0; i < runs; i++) {
    const start = performance.now()
    const r = await make(i)
    times.push(performance.now() - start)
    results += typeof r === 'number' ? r : r.length
  }
  times.sort((a, b) => a - b)
  console.log(`  ${name.padEnd(44)} p50 ${us(percentile(times, 50)).padStart(8)}   p99 ${us(percentile(times, 99)).padStart(8)}   (${(results / runs).toFixed(0)} results)`)
}

console.log(`\nquery latency at ${fmt(stats.events)} stored events (1000 runs each; queryRaw = stored JSON, query = parsed)`)
await latencyAsync('queryRaw {authors:[1], limit:100}', 1000, (i) => store.queryRaw([{ authors: [authors[i % AUTHORS]], limit: 100 }]))
await latencyAsync('query    {authors:[1], limit:100} (parsed)', 1000, (i) => store.query([{ authors: [authors[i % AUTHORS]], limit: 100 }]))
await latencyAsync('queryRaw {#t:[1], limit:100}', 1000, (i) => store.queryRaw([{ '#t': [HASHTAGS[i % HASHTAGS.length]], limit: 100 }]))
await latencyAsync('query    {#t:[1], limit:100} (parsed)', 1000, (i) => store.query([{ '#t': [HASHTAGS[i % HASHTAGS.length]], limit: 100 }]))
await latencyAsync('queryRaw {authors:[10], limit:100}', 1000, (i) => store.queryRaw([{ authors: authors.slice(i % 100, (i % 100) + 10), limit: 100 }]))
await latencyAsync('queryRaw {kinds:[1311], #a:[1], limit:100}', 1000, (i) => store.queryRaw([{ kinds: [KIND_LIVE_CHAT], '#a': [streams[i % streams.length]], limit: 100 }]))
await latencyAsync('queryRaw live now {kinds:[30311], #status:[live]}', 1000, () => store.queryRaw([{ kinds: [KIND_LIVE_EVENT], '#status': ['live'], limit: 100 }]))
await latencyAsync('count {#t:[1]}', 1000, (i) => store.count([{ '#t': [HASHTAGS[i % HASHTAGS.length]] }]))
await latencyAsync('count {kinds:[1311]}', 200, () => store.count([{ kinds: [KIND_LIVE_CHAT] }]))

await discard(run)
