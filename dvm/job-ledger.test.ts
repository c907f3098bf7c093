import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTranscodeRequest, hashStreamKey } from '../protocol/job.ts'
import { finalizeEvent, generateSecretKey, getPublicKey } from '../protocol/keys.ts'
import { openJobLedger } from './job-ledger.ts'

const sk = generateSecretKey()
const NOW = 1_800_000_000
const request = (d: string, expiration = NOW + 600) =>
  finalizeEvent(
    buildTranscodeRequest({ coordinate: { kind: 30311, pubkey: getPublicKey(sk), identifier: d }, keyHash: hashStreamKey(d), renditions: ['360p'], record: true, relays: [], expiration }, NOW),
    sk,
  )

describe('job ledger', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relaycast-ledger-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('remembers running and finished jobs across a reopen; finished ones leave once expired', async () => {
    let now = NOW
    const ledger = await openJobLedger(dir, () => now)
    const running = request('running')
    const done = request('done')
    const short = request('short', NOW + 10)
    await ledger.start('s1', running)
    await ledger.start('s2', done)
    await ledger.finish('s2', done, NOW + 600)
    await ledger.finish('s3', short, NOW + 10)
    expect(ledger.isFinished(done.id)).toBe(true)
    expect(ledger.isFinished(running.id)).toBe(false)
    expect(ledger.interrupted).toEqual([])

    now = NOW + 60
    const again = await openJobLedger(dir, () => now)
    expect(again.interrupted).toEqual([{ streamId: 's1', request: running }])
    // Interrupted counts as over at once: a replayed request must not start again.
    expect(again.isFinished(running.id)).toBe(true)
    expect(again.isFinished(done.id)).toBe(true)
    expect(again.isFinished(short.id)).toBe(false)
    await again.finish('s1', running, NOW + 600)
    expect(await readdir(join(dir, 'active'))).toEqual([])
  })

  it('survives torn files: a bad finished list reads as empty, a bad running entry is dropped', async () => {
    const torn = await mkdtemp(join(tmpdir(), 'relaycast-ledger-torn-'))
    const first = await openJobLedger(torn)
    await first.start('s1', request('x'))
    await writeFile(join(torn, 'finished.json'), '{"abc":')
    await writeFile(join(torn, 'active', 's2.json'), '{"kind":')
    const reopened = await openJobLedger(torn)
    expect(reopened.interrupted.map((j) => j.streamId)).toEqual(['s1'])
    expect(await readdir(join(torn, 'active'))).toEqual(['s1.json'])
    await rm(torn, { recursive: true, force: true })
  })
})
