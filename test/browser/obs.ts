import { pushTestStream } from '../media/push.ts'
import type { Push } from '../media/push.ts'

/**
 * The synthetic OBS for browser tests: test/media/push.ts's ffmpeg (testsrc2 720p30 + sine,
 * libx264 with a keyframe every second, AAC 48 kHz, FLV over RTMP). Every push started here is
 * remembered so teardown can kill it even when a test failed halfway.
 */

export interface Obs extends Push {
  url: string
  /** Kills ffmpeg (SIGKILL) and resolves once it is gone. */
  stop(): Promise<void>
}

const running = new Set<Obs>()

/**
 * `server` is the RTMP URL as the OBS card shows it (rtmp://host:port/app); `key` goes after it.
 * `clip` (see ensureTestClip) loops a pre-encoded file instead of encoding: the same stream on
 * the wire for almost no CPU, for benches.
 */
export function startObs(server: string, key: string, options: { clip?: string } = {}): Obs {
  const url = `${server.trim().replace(/\/+$/, '')}/${key.trim()}`
  const abort = new AbortController()
  const push = pushTestStream({ url, width: 1280, height: 720, fps: 30, keyframeSeconds: 1, videoBitrateKbps: 2500, clip: options.clip, signal: abort.signal })
  const obs: Obs = {
    ...push,
    url,
    async stop() {
      abort.abort()
      await push.exited
      running.delete(obs)
    },
  }
  running.add(obs)
  void push.exited.then(() => running.delete(obs))
  return obs
}

/** Kills every push still running (teardown). */
export async function stopAllObs(): Promise<void> {
  await Promise.all([...running].map((o) => o.stop()))
}
