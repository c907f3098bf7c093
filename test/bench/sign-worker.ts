/**
 * Worker thread for presign.ts: signs the templates it is given with nostr-wasm (the fastest
 * signer here) and posts the events back, with how long the signing alone took.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { hexToBytes } from '@noble/hashes/utils.js'
import { initNostrWasm } from 'nostr-wasm'
import type { NostrEvent } from '../../protocol/types.ts'
import type { SignJob } from './presign.ts'

const { keys, jobs } = workerData as { keys: string[]; jobs: SignJob[] }
const nw = await initNostrWasm()
const secretKeys = keys.map(hexToBytes)
const start = performance.now()
const events: NostrEvent[] = jobs.map(({ key, template }) => {
  const e = { ...template, pubkey: '', id: '', sig: '' }
  nw.finalizeEvent(e, secretKeys[key])
  return e
})
parentPort?.postMessage({ events, ms: performance.now() - start })
