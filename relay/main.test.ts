import { execFile, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { connectRaw, isVerb } from './test-harness.ts'

const run = promisify(execFile)
const CLI = join(import.meta.dirname, '..', 'bin', 'relaycast.js')

describe('relaycast relay', () => {
  it('--help lists the flags with their environment variables', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'relay', '--help'])
    expect(stdout).toMatch(/--port V\s.*\[RELAYCAST_RELAY_PORT\]/)
    expect(stdout).toMatch(/--data V\s.*\[RELAYCAST_DATA\]/)
  })

  it('exits 2 and names a bad flag', async () => {
    const err = await run(process.execPath, [CLI, 'relay', '--port', 'x']).catch((e: { code: number; stderr: string }) => e)
    expect(err).toMatchObject({ code: 2, stderr: expect.stringContaining('--port must be an integer') })
  })

  it('starts on LMDB, prints its URL, serves, and shuts down cleanly on SIGTERM', async () => {
    const data = await mkdtemp(join(tmpdir(), 'relaycast-main-'))
    const child = spawn(process.execPath, [CLI, 'relay', '--port', '0', '--data', data], {
      env: { ...process.env, RELAYCAST_RELAY_NAME: 'from env' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString()
        const m = /listening on (ws:\/\/\S+)/.exec(stdout)
        if (m) resolve(m[1])
      })
      child.once('exit', (code) => reject(new Error(`exited early (${code}): ${stdout}`)))
    })
    expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/)
    expect(stdout).not.toMatch(/[0-9a-f]{64}\n[\s\S]*secret/i)

    const info = await (await fetch(url.replace('ws:', 'http:'), { headers: { accept: 'application/nostr+json' } })).json()
    expect(info.name).toBe('from env')
    const raw = await connectRaw(url)
    raw.send(['REQ', 'x', {}])
    await raw.next(isVerb('EOSE', 'x'))

    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    expect(await raw.closed).toBe(1001)
    expect(await exited).toBe(0)
    await rm(data, { recursive: true, force: true })
  })
})
