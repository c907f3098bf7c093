import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { SERVICE_KEY_FILE, ServiceKeyError, loadServiceKey } from './service-key.ts'

describe('service key', () => {
  it('is made once with mode 0600, then reused; the file holds only the hex key', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'relaycast-key-')), 'nested')
    const first = await loadServiceKey(dir)
    const path = join(dir, SERVICE_KEY_FILE)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect((await readFile(path, 'utf8')).trim()).toMatch(/^[0-9a-f]{64}$/)
    const second = await loadServiceKey(dir)
    expect(second.pubkey).toBe(first.pubkey)
    const signed = await second.sign({ kind: 1, tags: [], content: 'x', created_at: 1 })
    expect(signed.pubkey).toBe(first.pubkey)
    expect(JSON.stringify(first)).not.toContain((await readFile(path, 'utf8')).trim())
    await rm(dir, { recursive: true, force: true })
  })

  it('refuses a damaged key file instead of replacing it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'relaycast-key-'))
    await writeFile(join(dir, SERVICE_KEY_FILE), 'garbage\n', { mode: 0o644 })
    await expect(loadServiceKey(dir)).rejects.toThrow(ServiceKeyError)
    expect(await readFile(join(dir, SERVICE_KEY_FILE), 'utf8')).toBe('garbage\n')
    await rm(dir, { recursive: true, force: true })
  })
})
