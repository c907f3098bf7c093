import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createKeyRegistry } from '../ingest/auth.ts'
import { buildTranscodeRequest, generateStreamKey, getJobFeedback, getTranscodeResult, hashStreamKey } from '../protocol/job.ts'
import type { Rendition } from '../protocol/job.ts'
import { createKeySigner, finalizeEvent, generateSecretKey, getPublicKey } from '../protocol/keys.ts'
import { KIND_DELETION } from '../protocol/kinds.ts'
import type { NostrEvent } from '../protocol/types.ts'
import { createWorker } from './worker.ts'
import type { WorkerEvent, WorkerPolicy } from './worker.ts'

/** The worker's decisions alone: a fake relay (an array) and no media. */

const dvmSk = generateSecretKey()
const dvmPk = getPublicKey(dvmSk)
const alice = generateSecretKey()
const bob = generateSecretKey()
const NOW = 1_800_000_000

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
})

async function setup(policy: Partial<WorkerPolicy> = {}) {
  const hlsRoot = await mkdtemp(join(tmpdir(), 'relaycast-worker-'))
  const out: NostrEvent[] = []
  const events: WorkerEvent[] = []
  const registry = createKeyRegistry()
  const disconnected: string[] = []
  const worker = createWorker({
    pubkey: dvmPk,
    sign: createKeySigner(dvmSk),
    publish: async (e) => void out.push(e),
    registry,
    disconnect: (id) => (disconnected.push(id), true),
    ingestUrl: () => 'rtmp://localhost:1935/live',
    publicUrl: () => 'http://localhost:8088',
    origin: { viewers: () => 0, forget: () => {} },
    hlsRoot,
    policy: { acceptUntargeted: false, maxStreams: 1, maxRenditions: 3, ...policy },
    now: () => NOW * 1000,
    onEvent: (e) => events.push(e),
  })
  cleanups.push(async () => {
    await worker.close()
    await rm(hlsRoot, { recursive: true, force: true })
  })
  // Publishing is chained after signing: let the microtasks run.
  const settle = () => new Promise<void>((r) => setImmediate(r))
  return { worker, out, events, registry, disconnected, settle }
}

function request(sk: Uint8Array, o: { d?: string; key?: string; dvm?: string | null; renditions?: Rendition[]; createdAt?: number; record?: boolean } = {}): NostrEvent {
  const t = buildTranscodeRequest(
    {
      coordinate: { kind: 30311, pubkey: getPublicKey(sk), identifier: o.d ?? 'show' },
      keyHash: hashStreamKey(o.key ?? generateStreamKey()),
      renditions: o.renditions ?? ['360p'],
      record: o.record ?? false,
      ...(o.dvm === null ? {} : { dvm: o.dvm ?? dvmPk }),
      relays: [],
      expiration: NOW + 600,
    },
    o.createdAt ?? NOW,
  )
  return finalizeEvent(t, sk)
}

const statusOf = (out: NostrEvent[], id: string) => out.map(getJobFeedback).filter((f) => f?.requestId === id).map((f) => f!.status)

describe('dvm worker policy', () => {
  it('accepts: registers the key hash, publishes 6311 then 7000 processing', async () => {
    const { worker, out, registry, settle } = await setup()
    const key = generateStreamKey()
    const req = request(alice, { key })
    await worker.handleEvent(req)
    await settle()
    expect(registry.authorize(key)).toEqual({ jobId: req.id })
    expect(getTranscodeResult(out[0])?.requestId).toBe(req.id)
    expect(statusOf(out, req.id)).toEqual(['processing'])
  })

  it('ignores jobs for another DVM, untargeted jobs unless configured, and bad signatures', async () => {
    const { worker, out, settle } = await setup()
    await worker.handleEvent(request(alice, { dvm: 'f'.repeat(64) }))
    await worker.handleEvent(request(alice, { dvm: null }))
    const forged = request(alice, { d: 'other' })
    await worker.handleEvent({ ...forged, sig: (forged.sig[0] === '0' ? '1' : '0') + forged.sig.slice(1) })
    await settle()
    expect(out).toEqual([])
    expect(worker.activeJobs).toBe(0)
  })

  it('takes untargeted jobs when configured', async () => {
    const { worker, settle } = await setup({ acceptUntargeted: true })
    await worker.handleEvent(request(alice, { dvm: null }))
    await settle()
    expect(worker.activeJobs).toBe(1)
  })

  it('refuses pubkeys off the allow-list and more streams than the limit, with plain reasons', async () => {
    const { worker, out, settle } = await setup({ allowPubkeys: [getPublicKey(alice)] })
    const fromBob = request(bob)
    await worker.handleEvent(fromBob)
    await worker.handleEvent(request(alice, { d: 'one' }))
    const second = request(alice, { d: 'two' })
    await worker.handleEvent(second)
    await settle()
    const reasons = out.map(getJobFeedback).filter((f) => f?.status === 'error')
    expect(reasons.find((f) => f!.requestId === fromBob.id)?.message).toMatch(/allow-list/)
    expect(reasons.find((f) => f!.requestId === second.id)?.message).toMatch(/busy/)
    expect(worker.activeJobs).toBe(1)
  })

  it('a newer request replaces the older (old key out, publisher dropped); an older one arriving late is ignored', async () => {
    const { worker, registry, disconnected, events, settle } = await setup()
    const k1 = generateStreamKey()
    const k2 = generateStreamKey()
    const r1 = request(alice, { key: k1, createdAt: NOW - 10 })
    const r2 = request(alice, { key: k2, createdAt: NOW - 5 })
    await worker.handleEvent(r1)
    await worker.handleEvent(r2)
    await settle()
    expect(registry.authorize(k1)).toMatch(/^blocked:/)
    expect(registry.authorize(k2)).toEqual({ jobId: r2.id })
    expect(disconnected).toEqual([r1.id])
    const r0 = request(alice, { key: generateStreamKey(), createdAt: NOW - 20 })
    await worker.handleEvent(r0)
    expect(events).toContainEqual({ type: 'ignored', jobId: r0.id, reason: 'a newer request for this stream exists' })
    expect(worker.activeJobs).toBe(1)
  })

  it('a deletion by someone else does nothing; one seen before its request voids the request', async () => {
    const { worker, registry, events, settle } = await setup({ maxStreams: 5 })
    const key = generateStreamKey()
    const req = request(alice, { key })
    await worker.handleEvent(req)
    await worker.handleEvent(finalizeEvent({ kind: KIND_DELETION, created_at: NOW, tags: [['e', req.id]], content: '' }, bob))
    expect(registry.authorize(key)).toEqual({ jobId: req.id })

    const later = request(alice, { d: 'later' })
    await worker.handleEvent(finalizeEvent({ kind: KIND_DELETION, created_at: NOW, tags: [['e', later.id]], content: '' }, alice))
    await worker.handleEvent(later)
    await settle()
    expect(events).toContainEqual({ type: 'ignored', jobId: later.id, reason: 'deleted' })
  })

  it('refuses a recording job when it has nowhere to keep recordings', async () => {
    const { worker, out, settle } = await setup()
    const req = request(alice, { record: true })
    await worker.handleEvent(req)
    await settle()
    expect(statusOf(out, req.id)).toEqual(['error'])
    expect(getJobFeedback(out[0])?.message).toMatch(/does not keep recordings/)
    expect(worker.activeJobs).toBe(0)
  })

  it('on close, a job still waiting for OBS gets a last 7000 error saying why, and close waits for it', async () => {
    const { worker, out, registry, settle } = await setup()
    const key = generateStreamKey()
    const req = request(alice, { key })
    await worker.handleEvent(req)
    await settle()
    await worker.close()
    expect(statusOf(out, req.id)).toEqual(['processing', 'error'])
    const last = getJobFeedback(out.at(-1)!)!
    expect(last.message).toMatch(/shut down before OBS connected/)
    // Each 7000 of a job is newer than the one before, so "latest" is never a tie.
    const times = out.filter((e) => getJobFeedback(e)?.requestId === req.id).map((e) => e.created_at)
    expect(times[1]).toBeGreaterThan(times[0])
    expect(registry.authorize(key)).not.toEqual({ jobId: req.id })
  })
})
