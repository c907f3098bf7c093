/**
 * The relay as a child process (`bin/relaycast.js relay`), for what must not share the test's
 * event loop or must really die: the benchmark's relay and the kill -9 crash test.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const CLI = fileURLToPath(new URL('../../bin/relaycast.js', import.meta.url))
const LISTENING = /listening on (ws:\/\/\S+)/
/** Time to start (tsx compiles the relay on first load) and to close gracefully. */
const START_TIMEOUT_MS = 60_000
const STOP_GRACE_MS = 15_000

/** Flags that lift the rate limits (per IP, per pubkey, chat slow mode): a load generator is one IP. */
export const NO_RATE_LIMITS: readonly string[] = [
  '--ip-rate', '1000000000', '--ip-burst', '1000000000',
  '--pubkey-rate', '1000000000', '--pubkey-burst', '1000000000',
  '--chat-slow-mode', '0',
]

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface RelayProcess {
  /** ws:// URL as the relay printed it. */
  url: string
  pid: number
  child: ChildProcess
  /** Resolves once the process has exited, however it ended. */
  exited: Promise<Exit>
  /** Everything the process wrote so far (stdout and stderr). */
  output(): string
  /** VmRSS and VmHWM (peak) from /proc/<pid>/status, in bytes. */
  memory(): { rss: number; peak: number }
  /** SIGTERM (graceful close), then SIGKILL if it has not exited within the grace period. */
  stop(): Promise<Exit>
  /** SIGKILL: no chance to flush or close anything. */
  kill(): Promise<Exit>
}

/** Starts `relaycast relay --port 0 --data <dataDir> …args` on 127.0.0.1; resolves once it listens. */
export function startRelayProcess(dataDir: string, args: readonly string[] = []): Promise<RelayProcess> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RELAYCAST_')))
  const child = spawn(process.execPath, [CLI, 'relay', '--host', '127.0.0.1', '--port', '0', '--data', dataDir, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))

  return new Promise<RelayProcess>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`relay did not start within ${START_TIMEOUT_MS} ms:\n${output}`))
    }, START_TIMEOUT_MS)
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      const m = LISTENING.exec(output)
      if (!m || child.pid === undefined) return
      clearTimeout(timer)
      resolve(handle(child, child.pid, m[1], exited, () => output))
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    void exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error(`relay exited (code ${code}, signal ${signal}) before listening:\n${output}`))
    })
  })
}

function handle(child: ChildProcess, pid: number, url: string, exited: Promise<Exit>, output: () => string): RelayProcess {
  const signal = async (sig: NodeJS.Signals): Promise<Exit> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig)
    return exited
  }
  return {
    url,
    pid,
    child,
    exited,
    output,
    memory() {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8')
      const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
      return { rss: kib('VmRSS'), peak: kib('VmHWM') }
    },
    async stop() {
      const cut = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
      const exit = await signal('SIGTERM')
      clearTimeout(cut)
      return exit
    },
    kill: () => signal('SIGKILL'),
  }
}
