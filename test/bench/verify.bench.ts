/**
 * How many events per second one core can verify with each backend.
 * Run: node scripts/build-native.js && npx tsx test/bench/verify.bench.ts [count]
 *
 * Events are realistic live chat (1311 with an `a` tag to a stream, ~100-byte content) from many
 * authors. "full" is what the relay does per event: recompute the id, then check the signature.
 */
import { cpus, loadavg } from 'node:os'
import { initNostrWasm } from 'nostr-wasm'
import { getEventHash } from '../../protocol/event.ts'
import { KIND_LIVE_CHAT } from '../../protocol/kinds.ts'
import type { NostrEvent } from '../../protocol/types.ts'
import { nobleSignatureCheck } from '../../protocol/verify.ts'
import { loadSignatureCheck, nodeEventHash, type BackendName, type VerifyBackend } from '../../relay/verify/index.ts'

const COUNT = Number(process.argv[2] ?? 3000)
const AUTHORS = 200
const WORDS = 'the stream looks great tonight can you turn the music down a bit haha gg nice play chat is wild hello from berlin'.split(' ')

function chatContent(i: number): string {
  let s = `#${i} `
  while (s.length < 100) s += WORDS[(i * 7 + s.length) % WORDS.length] + ' '
  return s.trim()
}

/** Pre-signs with nostr-wasm: only the verifying is measured, and this is the fastest signer here. */
async function presign(count: number): Promise<NostrEvent[]> {
  const nw = await initNostrWasm()
  const host = nw.generateSecretKey()
  const hostPubkey = Array.from(nw.getPublicKey(host), (b) => b.toString(16).padStart(2, '0')).join('')
  const keys = Array.from({ length: AUTHORS }, () => nw.generateSecretKey())
  const coordinate = `${30311}:${hostPubkey}:summer-stream-2025`
  const events: NostrEvent[] = []
  for (let i = 0; i < count; i++) {
    const e = {
      kind: KIND_LIVE_CHAT,
      created_at: 1_750_000_000 + i,
      tags: [['a', coordinate, 'wss://relay.example.com', 'root']],
      content: chatContent(i),
      pubkey: '',
      id: '',
      sig: '',
    }
    nw.finalizeEvent(e, keys[i % AUTHORS])
    events.push(e)
  }
  // Keep the bench honest: an independent verifier agrees the events are genuine.
  for (const e of events.slice(0, 5)) if (getEventHash(e) !== e.id || !nobleSignatureCheck(e)) throw new Error('presign broke')
  return events
}

function rate(events: readonly NostrEvent[], run: (events: readonly NostrEvent[]) => number): number {
  run(events.slice(0, Math.min(200, events.length))) // warm up the JIT and any lazy tables
  const start = performance.now()
  const ok = run(events)
  const seconds = (performance.now() - start) / 1000
  if (ok !== events.length) throw new Error(`only ${ok} of ${events.length} verified`)
  return Math.round(events.length / seconds)
}

const each = (check: (e: NostrEvent) => boolean) => (events: readonly NostrEvent[]) => {
  let ok = 0
  for (const e of events) if (check(e)) ok++
  return ok
}

const events = await presign(COUNT)
const size = Math.round(events.reduce((n, e) => n + JSON.stringify(e).length, 0) / events.length)
console.log(`${COUNT} kind-${KIND_LIVE_CHAT} events, ~${size} bytes of JSON each, ${AUTHORS} authors`)
console.log(`node ${process.version}, ${cpus()[0]?.model ?? 'unknown cpu'} x${cpus().length}, load average ${loadavg()[0].toFixed(2)}`)
console.log('')

const idsOnly = (hash: (e: NostrEvent) => string) => each((e) => hash(e) === e.id)
console.log(`id only, @noble/hashes sha256: ${rate(events, idsOnly(getEventHash))} events/s/core`)
console.log(`id only, node:crypto sha256:   ${rate(events, idsOnly(nodeEventHash))} events/s/core`)
console.log('')

for (const name of ['native', 'wasm', 'noble'] as BackendName[]) {
  const backend: VerifyBackend = await loadSignatureCheck(name)
  if (backend.name !== name) {
    console.log(`${name}: not available (${backend.skipped.find((s) => s.name === name)?.reason})`)
    continue
  }
  const full = rate(events, each((e) => backend.checkEvent(e) === undefined))
  const sigOnly = rate(events, each(backend.check))
  console.log(`${name}: ${full} events/s/core (full check: id + sig)`)
  console.log(`${name}: ${sigOnly} events/s/core (sig only)`)
  if (name === 'native') {
    const batch = rate(events, (es) => backend.checkMany(es).filter(Boolean).length)
    const fullBatch = rate(events, (es) => {
      const fresh = es.filter((e) => backend.hash(e) === e.id)
      return backend.checkMany(fresh).filter(Boolean).length
    })
    console.log(`${name}: ${fullBatch} events/s/core (full check, one batch call)`)
    console.log(`${name}: ${batch} events/s/core (sig only, one batch call)`)
  }
}
