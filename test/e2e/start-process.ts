/**
 * `relaycast start` as a child process on free loopback ports and a temporary data directory,
 * with the URLs it printed. Shared by the start test, the end-to-end loop test and bench:e2e.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { decode } from 'nostr-tools/nip19'

export const CLI = fileURLToPath(new URL('../../bin/relaycast.js', import.meta.url))
/** tsx compiles the whole app on first load, and the web app is built: allow for a busy box. */
const START_TIMEOUT_MS = 90_000
const STOP_GRACE_MS = 25_000

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface Banner {
  appUrl: string | undefined
  relayUrl: string
  rtmpUrl: string
  hlsUrl: string
  relayPubkey: string
  transcoderPubkey: string
}

export interface StartProcess extends Banner {
  child: ChildProcess
  pid: number
  exited: Promise<Exit>
  output(): string
  /** Pids of every live descendant (ffmpeg, ffprobe) right now. */
  descendants(): number[]
  /** SIGINT (Ctrl-C), then SIGKILL if it has not exited within the grace period. */
  stop(signal?: NodeJS.Signals): Promise<Exit>
}

/** Environment without the operator's RELAYCAST_* settings, so tests see the defaults. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RELAYCAST_'))), ...extra }
}

/** Runs `relaycast start` to completion (for the start-up errors) and returns its exit and output. */
export function runStart(args: readonly string[], env: NodeJS.ProcessEnv = cleanEnv()): Promise<Exit & { stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, 'start', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const timer = setTimeout(() => child.kill('SIGKILL'), START_TIMEOUT_MS)
  return new Promise((resolve) =>
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    }),
  )
}

/** Reads the block `relaycast start` prints; undefined until it is complete. */
export function parseBanner(text: string): Banner | undefined {
  const row = (label: string): string | undefined => new RegExp(`^\\s+${label}\\s+(\\S+)`, 'm').exec(text)?.[1]
  const relayUrl = row('Relay')
  const rtmpUrl = row('OBS server')
  const hlsUrl = row('HLS')
  const relayNpub = row('Relay npub')
  const transcoderNpub = row('Transcoder')
  const app = row('App')
  if (!relayUrl || !rtmpUrl || !hlsUrl || !relayNpub || !transcoderNpub || !app || !/Ctrl-C stops everything/.test(text)) return undefined
  return {
    appUrl: app.startsWith('http') ? app : undefined,
    relayUrl,
    rtmpUrl,
    hlsUrl,
    relayPubkey: decode(relayNpub as `npub1${string}`).data as string,
    transcoderPubkey: decode(transcoderNpub as `npub1${string}`).data as string,
  }
}

/** Starts `relaycast start --port 0 --rtmp-port 0 --http-port 0 --data <dataDir> …args`; resolves once it printed its block. */
export function startRelaycast(dataDir: string, args: readonly string[] = [], env: NodeJS.ProcessEnv = cleanEnv()): Promise<StartProcess> {
  const child = spawn(process.execPath, [CLI, 'start', '--port', '0', '--rtmp-port', '0', '--http-port', '0', '--data', dataDir, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let output = ''
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))

  return new Promise<StartProcess>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`relaycast start did not come up within ${START_TIMEOUT_MS} ms:\n${output}`))
    }, START_TIMEOUT_MS)
    let done = false
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d
      output += d
      const banner = parseBanner(stdout)
      if (!banner || done || child.pid === undefined) return
      done = true
      clearTimeout(timer)
      resolve(handle(child, child.pid, banner, exited, () => output))
    })
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d))
    void exited.then(({ code, signal }) => {
      clearTimeout(timer)
      if (!done) reject(new Error(`relaycast start exited (code ${code}, signal ${signal}) before it was up:\n${output}`))
    })
  })
}

function handle(child: ChildProcess, pid: number, banner: Banner, exited: Promise<Exit>, output: () => string): StartProcess {
  return {
    ...banner,
    child,
    pid,
    exited,
    output,
    descendants: () => descendantsOf(pid),
    async stop(signal = 'SIGINT') {
      if (child.exitCode !== null || child.signalCode !== null) return exited
      const cut = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
      child.kill(signal)
      const exit = await exited
      clearTimeout(cut)
      return exit
    },
  }
}

/** Every live process below `root`, from /proc (Linux). */
export function descendantsOf(root: number): number[] {
  const parents = new Map<number, number>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      // Field 4 (ppid) follows the parenthesised command name, which may itself hold spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      parents.set(Number(entry), ppid)
    } catch {
      // the process ended while we looked
    }
  }
  const out: number[] = []
  const walk = (p: number): void => {
    for (const [child, parent] of parents) if (parent === p) (out.push(child), walk(child))
  }
  walk(root)
  return out
}

/** True while a process with this pid exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}
