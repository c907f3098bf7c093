/**
 * Signs many templates before a benchmark starts its clock: signing is slow in JS (~1.5k/s per
 * core with nostr-wasm), so the work is split over worker threads.
 */
import { Worker } from 'node:worker_threads'
import { bytesToHex } from '@noble/hashes/utils.js'
import { getEventHash } from '../../protocol/event.ts'
import { generateSecretKey, getPublicKey } from '../../protocol/keys.ts'
import type { EventTemplate, NostrEvent } from '../../protocol/types.ts'
import { nobleSignatureCheck } from '../../protocol/verify.ts'

export interface SignJob {
  /** Index into the secret keys. */
  key: number
  template: EventTemplate
}

export interface BenchKeys {
  secretKeys: string[]
  pubkeys: string[]
}

export function generateKeys(count: number): BenchKeys {
  const secretKeys = Array.from({ length: count }, generateSecretKey)
  return { secretKeys: secretKeys.map(bytesToHex), pubkeys: secretKeys.map(getPublicKey) }
}

export interface Presigned {
  events: NostrEvent[]
  /** Events signed per second by one thread, its start-up not counted: a plain measure of CPU speed. */
  perThreadRate: number
}

/**
 * Signs `jobs` in order over `threads` workers. The worker runs TypeScript, so it registers tsx's
 * loader itself (workers do not inherit the loader the parent was started with).
 */
export async function presign(keys: BenchKeys, jobs: SignJob[], threads: number): Promise<Presigned> {
  const tsx = import.meta.resolve('tsx/esm/api')
  const worker = new URL('./sign-worker.ts', import.meta.url).href
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(worker)}) })`
  const per = Math.ceil(jobs.length / threads)
  const parts = await Promise.all(
    Array.from({ length: threads }, (_, t) =>
      new Promise<{ events: NostrEvent[]; ms: number }>((resolve, reject) => {
        const w = new Worker(boot, { eval: true, workerData: { keys: keys.secretKeys, jobs: jobs.slice(t * per, (t + 1) * per) } })
        w.once('message', (part: { events: NostrEvent[]; ms: number }) => {
          resolve(part)
          void w.terminate()
        })
        w.once('error', reject)
      }),
    ),
  )
  const events = parts.flatMap((p) => p.events)
  const perThreadRate = events.length / (parts.reduce((ms, p) => ms + p.ms, 0) / 1000)
  // Keep the bench honest: an independent implementation agrees the events are genuine.
  for (const e of [events[0], events[events.length - 1]]) {
    if (getEventHash(e) !== e.id || !nobleSignatureCheck(e)) throw new Error('presign produced an invalid event')
  }
  return { events, perThreadRate }
}
