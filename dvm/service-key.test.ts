import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { SERVICE_KEY_FILE, loadServiceKey } from './service-key.ts'

describe('dvm service key', () => {
  const dirs: string[] = []
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  })

  it('is generated once with mode 0600 and reloaded unchanged', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'relaycast-dvm-key-'))
    dirs.push(dir)
    const first = await loadServiceKey(join(dir, 'data'))
    const path = join(dir, 'data', SERVICE_KEY_FILE)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    const second = await loadServiceKey(join(dir, 'data'))
    expect(second.pubkey).toBe(first.pubkey)
    expect(first.npub.startsWith('npub1')).toBe(true)
    const secret = (await readFile(path, 'utf8')).trim()
    expect(JSON.stringify(first)).not.toContain(secret)
    const signed = await first.sign({ kind: 1, created_at: 1, tags: [], content: 'x' })
    expect(signed.pubkey).toBe(first.pubkey)
  })
})
