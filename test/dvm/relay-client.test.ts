import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PublishError, connectRelay } from '../../dvm/relay-client.ts'
import type { RelayClient } from '../../dvm/relay-client.ts'
import { finalizeEvent, generateSecretKey } from '../../protocol/keys.ts'
import type { NostrEvent } from '../../protocol/types.ts'
import { startTestRelay } from '../../relay/test-harness.ts'
import type { TestRelay } from '../../relay/test-harness.ts'
import { waitFor } from '../media/wait.ts'

describe('dvm relay client', () => {
  let relay: TestRelay
  let client: RelayClient
  beforeAll(async () => {
    relay = await startTestRelay()
    client = await connectRelay(relay.url)
  })
  afterAll(async () => {
    client?.close()
    await relay?.stop()
  })

  it('publish resolves on OK true and rejects with the reason on OK false', async () => {
    const sk = generateSecretKey()
    const good = finalizeEvent({ kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [], content: 'hi' }, sk)
    await expect(client.publish(good)).resolves.toBeUndefined()
    const bad = { ...good, content: 'tampered' }
    const err = await client.publish(bad).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(PublishError)
    expect((err as Error).message).toMatch(/invalid/)
  })

  it('a subscription delivers until its signal aborts', async () => {
    const sk = generateSecretKey()
    const got: NostrEvent[] = []
    const controller = new AbortController()
    client.subscribe([{ kinds: [1], '#t': ['dvm-sub'] }], (e) => got.push(e), controller.signal)
    const note = (content: string) => finalizeEvent({ kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [['t', 'dvm-sub']], content }, sk)
    await client.publish(note('one'))
    await waitFor('first event', () => got.length === 1)
    controller.abort()
    // A second subscription sees the next event; the aborted one must not.
    const after: NostrEvent[] = []
    const other = new AbortController()
    client.subscribe([{ kinds: [1], '#t': ['dvm-sub'] }], (e) => after.push(e), other.signal)
    await waitFor('stored event on the new subscription', () => after.length === 1)
    await client.publish(note('two'))
    await waitFor('second event on the new subscription', () => after.length === 2)
    other.abort()
    expect(got.map((e) => e.content)).toEqual(['one'])
  })
})
