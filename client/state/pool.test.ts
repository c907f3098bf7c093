import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { Coordinate } from '../../protocol/coordinate.ts'
import { KIND_LIVE_EVENT } from '../../protocol/kinds.ts'
import { buildLiveEvent } from '../../protocol/nip53.ts'
import type { NostrEvent } from '../../protocol/types.ts'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { testPubkey, testSigner } from '../../test/fixtures/keys.ts'
import { createChat } from './chat.ts'
import { createDashboard } from './dashboard.ts'
import { createPool } from './pool.ts'
import type { Pool } from './pool.ts'

// Against the real relay (its CLI, as an operator runs it: client/ may not import relay/): the
// pool's subscriptions and publishes, and moderation end to end — the host mutes through the
// dashboard model, the relay refuses the chatter, the chat model says why.

interface RunningRelay {
  url: string
  stop(): Promise<void>
}

async function startRelay(): Promise<RunningRelay> {
  const dataDir = await mkdtemp(join(tmpdir(), 'relaycast-client-'))
  const bin = resolve(import.meta.dirname, '../../bin/relaycast.js')
  const child: ChildProcess = spawn(process.execPath, [bin, 'relay', '--port', '0', '--host', '127.0.0.1', '--data', dataDir, '--chat-slow-mode', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const url = await new Promise<string>((resolveUrl, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      const m = /listening on (ws:\/\/[0-9.]+:[0-9]+)/.exec(output)
      if (m) resolveUrl(m[1])
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.once('exit', (code) => reject(new Error(`relay exited (${code}): ${output}`)))
  })
  return {
    url,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await exited
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}
const host = testSigner('host')
const bob = testSigner('bob')

describe('pool and moderation against a real relay', () => {
  let t: RunningRelay
  let pool: Pool
  const coordinate: Coordinate = { kind: KIND_LIVE_EVENT, pubkey: testPubkey('host'), identifier: 'pool-test' }
  beforeAll(async () => {
    t = await startRelay()
    pool = createPool({ relays: () => [t.url], WebSocket: WebSocket as unknown as typeof globalThis.WebSocket })
  })
  afterAll(async () => {
    pool?.close()
    await t?.stop()
  })

  it('publishes, then a subscription gets the stored event, EOSE, and new events live', async () => {
    const now = Math.floor(Date.now() / 1000)
    const first = host(buildLiveEvent({ identifier: 'pool-test', status: 'live', title: 'one', relays: [t.url] }, now - 1))
    expect(await pool.publish(first)).toEqual({ ok: true, accepted: [t.url], refused: [] })
    const got: NostrEvent[] = []
    let eose!: () => void
    const eosed = new Promise<void>((r) => (eose = r))
    let next!: (e: NostrEvent) => void
    const second = new Promise<NostrEvent>((r) => (next = r))
    const close = pool.subscribe([{ kinds: [KIND_LIVE_EVENT], '#status': ['live'] }], { onevent: (e) => (got.push(e), got.length === 2 && next(e)), oneose: eose })
    await eosed
    expect(got.map((e) => e.id)).toEqual([first.id])
    const updated = host(buildLiveEvent({ identifier: 'pool-test', status: 'live', title: 'two', relays: [t.url] }, now))
    await pool.publish(updated)
    expect((await second).id).toBe(updated.id)
    close()
    expect((await pool.query([{ kinds: [KIND_LIVE_EVENT], authors: [host(buildLiveEvent({ identifier: 'x', status: 'live' })).pubkey] }])).map((e) => e.id)).toEqual([updated.id])
  })

  it('reports the relay’s refusal reason, and a relay that is not there', async () => {
    const bad = { ...host({ kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [], content: 'x' }), sig: 'f'.repeat(128) }
    const outcome = await pool.publish(bad)
    expect(outcome.ok).toBe(false)
    expect(outcome.refused[0].reason).toMatch(/^invalid: /)
    const nowhere = await pool.publish(bad, ['ws://127.0.0.1:9'])
    expect(nowhere.ok).toBe(false)
    expect(nowhere.refused[0].reason).toMatch(/could not connect/)
  })

  it('a chatter muted from the dashboard gets the relay’s refusal in plain words', async () => {
    const relays = () => [t.url]
    const chat = createChat(pool, { coordinate, relays, moderators: () => [coordinate.pubkey], sign: async (e) => bob(e) })
    const dash = createDashboard(pool, { coordinate, relays, sign: async (e) => host(e) })
    const stop = dash.start()
    expect(await chat.send('hello')).toBe(true)
    expect(await dash.mute(testPubkey('bob'))).toBe(true)
    expect(dash.muted.value.has(testPubkey('bob'))).toBe(true)
    expect(await chat.send('am I muted?')).toBe(false)
    expect(chat.error.value).toBe("You can't chat here: the host has muted you.")
    // The host deletes bob's earlier message: the relay removes it and other viewers' chat drops it.
    const viewer = createChat(pool, { coordinate, relays, moderators: () => [coordinate.pubkey], sign: async (e) => bob(e) })
    let loaded!: () => void
    const ready = new Promise<void>((r) => (loaded = r))
    const closeViewer = pool.subscribe([{ kinds: [1311, 5], '#a': [`30311:${coordinate.pubkey}:pool-test`] }], { onevent: viewer.apply, oneose: loaded })
    await ready
    const hello = viewer.messages.value.find((m) => m.message.content === 'hello')!
    expect(hello).toBeDefined()
    expect(await dash.remove(hello.event)).toBe(true)
    expect(await pool.query([{ ids: [hello.event.id] }])).toEqual([])
    closeViewer()
    stop()
  })
})
