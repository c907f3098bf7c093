import { describe, expect, it } from 'vitest'
import { createLookupCache } from './lookup-cache.ts'

/** A loader whose answers the test releases by hand. */
function manualLoader() {
  const calls: { key: string; resolve: (v: string) => void }[] = []
  const load = (key: string) => new Promise<string>((resolve) => calls.push({ key, resolve }))
  return { calls, load }
}

describe('createLookupCache', () => {
  it('loads a miss once for every waiter, then answers synchronously', async () => {
    const loader = manualLoader()
    const cache = createLookupCache({ load: loader.load, max: 10 })
    const a = cache.get('k')
    const b = cache.get('k')
    expect(loader.calls.map((c) => c.key)).toEqual(['k'])
    loader.calls[0].resolve('v')
    expect(await Promise.all([a, b])).toEqual(['v', 'v'])
    expect(cache.get('k')).toBe('v')
  })

  it('a refresh from a commit wins over a load that read the older value', async () => {
    const loader = manualLoader()
    const cache = createLookupCache({ load: loader.load, max: 10 })
    const waiting = cache.get('k')
    cache.refresh('k', 'committed')
    loader.calls[0].resolve('stale')
    expect(await waiting).toBe('committed')
    expect(cache.get('k')).toBe('committed')
    cache.refresh('never-asked', 'x') // nobody asked: not kept
    expect(cache.size).toBe(1)
  })

  it('forgets by key and by event id, and drops the oldest entry past max', async () => {
    const cache = createLookupCache<{ id: string } | null>({ load: async (k) => ({ id: `id-${k}` }), max: 2, eventIdOf: (v) => v?.id })
    for (const k of ['a', 'b', 'c']) await cache.get(k)
    expect(cache.size).toBe(2)
    expect(cache.get('a')).toBeInstanceOf(Promise) // evicted, loads again
    await cache.get('a')
    cache.deleteByEventId('id-c')
    expect(cache.get('c')).toBeInstanceOf(Promise)
    cache.delete('a')
    expect(cache.get('a')).toBeInstanceOf(Promise)
  })
})
