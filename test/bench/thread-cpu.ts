/**
 * CPU time per thread of a process, from /proc (Linux). A throughput figure on a shared 2-core
 * machine moves with the neighbours; CPU spent per event moves much less, so the relay bench
 * prints both.
 */
import { readdirSync, readFileSync } from 'node:fs'

/** Milliseconds of user + system time of each thread of `pid`, by thread id. */
export function readThreadCpu(pid: number): Map<number, number> {
  const out = new Map<number, number>()
  const tick = 1000 / 100 // USER_HZ is 100 on Linux
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      // Fields after the command name, which is in parentheses and may hold spaces.
      const fields = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ')
      out.set(Number(tid), (Number(fields[11]) + Number(fields[12])) * tick)
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out
}

export interface CpuSplit {
  /** The main (event loop) thread. */
  main: number
  /** The busiest other thread: the relay's verify worker under ingest. */
  worker: number
  /** Every other thread: GC helpers, libuv's pool (LMDB commits and syncs). */
  rest: number
}

/** The CPU milliseconds `pid` spent between two readings, split by thread. */
export function splitCpu(pid: number, before: Map<number, number>, after: Map<number, number>): CpuSplit {
  const spent = [...after].map(([tid, ms]) => [tid, ms - (before.get(tid) ?? 0)] as const)
  const main = spent.find(([tid]) => tid === pid)?.[1] ?? 0
  const others = spent.filter(([tid]) => tid !== pid).map(([, ms]) => ms).sort((a, b) => b - a)
  const worker = others[0] ?? 0
  return { main, worker, rest: others.slice(1).reduce((a, b) => a + b, 0) }
}
