import { existsSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { KIND_TEXT_NOTE } from '../../protocol/kinds.ts'
import type { NostrEvent } from '../../protocol/types.ts'
import { nobleSignatureCheck } from '../../protocol/verify.ts'
import { TEST_KEY_NAMES, signAs } from '../../test/fixtures/keys.ts'
import { DEFAULT_NATIVE_PATH } from './index.ts'
import { createVerifyThread } from './thread.ts'

// The thread loads the native addon; without `npm run build:native` there is nothing to test.
describe.skipIf(!existsSync(DEFAULT_NATIVE_PATH))('verify thread (native addon on a worker thread)', () => {
  const valid = TEST_KEY_NAMES.map((name, i) => signAs(name, { kind: KIND_TEXT_NOTE, created_at: 1_700_000_000 + i, tags: [], content: `note ${i}` }))
  const spoiled: NostrEvent[] = [
    { ...valid[0], sig: valid[1].sig }, // another event's signature
    { ...valid[1], pubkey: valid[2].pubkey }, // another author
    { ...valid[2], sig: 'zz' + valid[2].sig.slice(2) }, // not hex: never reaches the addon
    { ...valid[3], sig: valid[3].sig.slice(0, 100) }, // short
  ]

  it('answers like noble, per event and in order, over concurrent calls', async () => {
    const thread = createVerifyThread(DEFAULT_NATIVE_PATH)
    try {
      const mixed = [...valid, ...spoiled, ...valid.slice().reverse()]
      const calls = [mixed, spoiled, valid, mixed.slice(3)]
      const answers = await Promise.all(calls.map((events) => thread.checkManyAsync(events)))
      expect(answers).toEqual(calls.map((events) => events.map((e) => nobleSignatureCheck(e))))
      expect(answers[2].every(Boolean)).toBe(true)
      expect(answers[1].some(Boolean)).toBe(false)
    } finally {
      await thread.close()
    }
  })

  it('after close, calls reject instead of waiting forever', async () => {
    const thread = createVerifyThread(DEFAULT_NATIVE_PATH)
    expect(await thread.checkManyAsync(valid.slice(0, 1))).toEqual([true])
    await thread.close()
    await expect(thread.checkManyAsync(valid)).rejects.toThrow(/closed/)
  })

  it('a worker that cannot load the addon fails its calls with a reason', async () => {
    const thread = createVerifyThread('/nonexistent/relaycast_verify.node')
    await expect(thread.checkManyAsync(valid)).rejects.toThrow(/verify thread/)
    await thread.close()
  })
})
