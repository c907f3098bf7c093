import { execFileSync } from 'node:child_process'

/**
 * Live (non-zombie) descendants of this process, as "pid command" lines: after teardown there
 * must be none (no Chromium, ffmpeg push or transcoder left behind).
 */
export function listDescendants(root = process.pid): string[] {
  const out = execFileSync('ps', ['-e', '-o', 'pid=,ppid=,stat=,args='], { encoding: 'utf8' })
  const rows = out
    .split('\n')
    .map((l) => l.trim().match(/^(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/))
    .filter((m): m is RegExpMatchArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), stat: m[3], args: m[4] }))
  const found: string[] = []
  const parents = new Set([root])
  let grew = true
  while (grew) {
    grew = false
    for (const r of rows) {
      if (parents.has(r.ppid) && !parents.has(r.pid)) {
        parents.add(r.pid)
        grew = true
        // `ps` itself is our child while it runs; zombies are gone once reaped; esbuild's service
        // belongs to the test runner (vite, tsx) and to the client build, and ends with the process.
        if (!r.stat.startsWith('Z') && !r.args.startsWith('ps -e') && !/esbuild --service/.test(r.args)) found.push(`${r.pid} ${r.args.slice(0, 120)}`)
      }
    }
  }
  return found
}

/** Waits (bounded) for descendants to exit: Chromium's helpers may take a moment after close. */
export async function waitNoDescendants(timeoutMs = 10_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const left = listDescendants()
    if (left.length === 0 || Date.now() > deadline) return left
    await new Promise((r) => setTimeout(r, 200))
  }
}
