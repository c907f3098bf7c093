import { describe, expect, it } from 'vitest'
import { testSigner } from '../../test/fixtures/keys.ts'
import { createFakePool } from './fake-pool.ts'
import { buildProfileUpdate, createProfiles, getProfile, shortKey } from './profiles.ts'

const T = 1_750_000_000
const alice = testSigner('alice')
const meta = (content: unknown, at = T) => alice({ kind: 0, created_at: at, tags: [], content: typeof content === 'string' ? content : JSON.stringify(content) })

describe('profiles', () => {
  it('reads names (display_name first) and only http(s) pictures; never throws', () => {
    expect(getProfile(meta({ name: 'al', display_name: 'Alice', picture: 'https://x/a.png' }))).toEqual({ name: 'Alice', picture: 'https://x/a.png' })
    expect(getProfile(meta({ name: 'al', picture: 'javascript:alert(1)' }))).toEqual({ name: 'al' })
    expect(getProfile(meta('not json'))).toBeUndefined()
    expect(shortKey('a'.repeat(64))).toBe('aaaaaaaa…aaaa')
  })

  it('asks the relays once per pubkey, in one batch, and keeps the newest', async () => {
    const pool = createFakePool([meta({ name: 'old' }, T - 10), meta({ name: 'new' }, T)])
    let queries = 0
    const query = pool.query.bind(pool)
    pool.query = (f, o) => (queries++, query(f, o))
    const profiles = createProfiles(pool, 0)
    const pubkey = meta({}).pubkey
    const s = profiles.get(pubkey)
    expect(profiles.get(pubkey)).toBe(s)
    await new Promise<void>((resolve) => {
      const stop = s.subscribe((p) => p.name === 'new' && (resolve(), stop?.()))
    })
    expect(s.value.name).toBe('new')
    profiles.apply(meta({ name: 'older still' }, T - 100))
    expect(s.value.name).toBe('new')
    expect(queries).toBe(1)
  })

  it('updates name and picture, keeping the other fields and making it newer', () => {
    const current = meta({ name: 'al', lud16: 'al@pay.example', about: 'hi' }, T)
    const next = buildProfileUpdate(current, { name: ' Alice ', picture: '' }, T - 50)
    expect(JSON.parse(next.content)).toEqual({ name: 'Alice', display_name: 'Alice', lud16: 'al@pay.example', about: 'hi' })
    expect(next.created_at).toBe(T + 1)
    expect(JSON.parse(buildProfileUpdate(undefined, { name: 'Bo', picture: 'https://x/b.png' }, T).content)).toEqual({ name: 'Bo', display_name: 'Bo', picture: 'https://x/b.png' })
  })
})
