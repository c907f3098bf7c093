#!/usr/bin/env node
// The project's test command: type-check everything, check and test protocol/ under Deno, run
// vitest with its JSON reporter, and end with one plain line "N passed, N failed[, N skipped]".
import { spawnSync } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const bin = (name) => join('node_modules', '.bin', name)
const run = (cmd, args) => {
  console.log(`\n$ ${[cmd, ...args].join(' ')}`)
  return spawnSync(cmd, args, { stdio: 'inherit' }).status ?? 1
}

const report = join(tmpdir(), `relaycast-vitest-${process.pid}.json`)
const failures = []
if (run(bin('tsc'), ['-p', 'tsconfig.json'])) failures.push('tsc')
if (run(bin('deno'), ['check', '--quiet', 'protocol/'])) failures.push('deno check')
if (run(bin('deno'), ['test', '--quiet', '--allow-env', '--allow-read=.', 'protocol/'])) failures.push('deno test')
const vitestArgs = ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)]
if (run(bin('vitest'), vitestArgs)) failures.push('vitest')

let passed = 0, failed = 0, skipped = 0
try {
  const r = JSON.parse(readFileSync(report, 'utf8'))
  passed = r.numPassedTests
  failed = r.numFailedTests
  skipped = r.numPendingTests + r.numTodoTests
  // A file that fails to load has no failed test but a failed suite: count it so it is seen.
  failed += r.testResults.filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length
} catch (err) {
  console.error(`could not read vitest's JSON report: ${err.message}`)
  failures.push('vitest report')
}
rmSync(report, { force: true })
if (failures.length) console.error(`\nfailed steps: ${failures.join(', ')}`)
if (failures.length && failed === 0) failed = failures.length
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
process.exit(failures.length ? 1 : 0)
