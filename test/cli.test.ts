import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)

describe('relaycast CLI', () => {
  it('--help lists the start, relay and dvm commands', async () => {
    const { stdout } = await run(process.execPath, ['bin/relaycast.js', '--help'])
    expect(stdout).toMatch(/^\s+start\s/m)
    expect(stdout).toMatch(/^\s+relay\s/m)
    expect(stdout).toMatch(/^\s+dvm\s/m)
  })

  it('refuses an unknown command with exit code 2 and says which', async () => {
    const err = await run(process.execPath, ['bin/relaycast.js', 'frobnicate']).catch((e) => e)
    expect(err.code).toBe(2)
    expect(err.stderr).toContain('unknown command "frobnicate"')
  })
})
