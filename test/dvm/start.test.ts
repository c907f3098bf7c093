import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { splitArgv } from '../../bin/start.ts'

const run = promisify(execFile)

describe('relaycast dvm / start command lines', () => {
  it('dvm --help lists its flags and the ingest ones', async () => {
    const { stdout } = await run(process.execPath, ['bin/relaycast.js', 'dvm', '--help'])
    for (const flag of ['--relay', '--rtmp-port', '--http-port', '--public-url', '--data']) expect(stdout).toContain(flag)
  })

  it('dvm refuses an unknown flag with exit code 2, naming it', async () => {
    const err = await run(process.execPath, ['bin/relaycast.js', 'dvm', '--frob']).catch((e) => e)
    expect(err.code).toBe(2)
    expect(err.stderr).toContain('--frob')
  })

  it('start --help still works and mentions both parts', async () => {
    const { stdout } = await run(process.execPath, ['bin/relaycast.js', 'start', '--help'])
    expect(stdout).toContain('--port')
    expect(stdout).toContain('--rtmp-port')
  })

  it('start splits argv: --data to both, --public-url by scheme, DVM flags to the DVM, the rest to the relay', () => {
    const { relay, dvm } = splitArgv(['--port', '0', '--data', '/d', '--rtmp-port=0', '--http-port', '9', '--public-url', 'https://cdn', '--public-url=wss://r', '--untargeted', '--trust-proxy', '--name', 'x'])
    expect(relay).toEqual(['--port', '0', '--data', '/d', '--public-url=wss://r', '--trust-proxy', '--name', 'x'])
    expect(dvm).toEqual(['--data', '/d', '--rtmp-port=0', '--http-port', '9', '--public-url', 'https://cdn', '--untargeted'])
  })
})
