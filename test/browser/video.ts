import type { Page } from 'playwright-core'

/**
 * What a <video> is doing, read inside the page: playback checks that wait on conditions
 * (readyState ≥ 3, videoWidth > 0, currentTime advancing) and a first-decoded-frame clock.
 */

export interface VideoState {
  present: boolean
  readyState?: number
  networkState?: number
  paused?: boolean
  currentTime?: number
  videoWidth?: number
  videoHeight?: number
  error?: string
  src?: string
  /** Seconds buffered ahead of currentTime. */
  ahead?: number
}

export const byTestId = (id: string): string => `[data-testid="${id}"]`

export function getVideoState(page: Page, testId: string): Promise<VideoState> {
  return page.evaluate((sel) => {
    const v = document.querySelector(sel)
    if (!(v instanceof HTMLVideoElement)) return { present: false }
    const b = v.buffered
    const end = b.length ? b.end(b.length - 1) : 0
    return {
      present: true,
      readyState: v.readyState,
      networkState: v.networkState,
      paused: v.paused,
      currentTime: v.currentTime,
      videoWidth: v.videoWidth,
      videoHeight: v.videoHeight,
      error: v.error ? `${v.error.code} ${v.error.message}` : undefined,
      src: v.currentSrc.slice(0, 80),
      ahead: Math.max(0, end - v.currentTime),
    }
  }, byTestId(testId))
}

export interface Playback {
  readyState: number
  videoWidth: number
  videoHeight: number
  /** currentTime gained while `wallMs` passed. */
  advancedSeconds: number
  wallMs: number
}

/**
 * Waits until the video has a picture (readyState ≥ 3, videoWidth > 0) and then until its
 * currentTime has moved on by `advance` seconds. Rejects with the video's state in the message.
 */
export async function waitForPlayback(page: Page, testId: string, options: { timeoutMs?: number; advance?: number } = {}): Promise<Playback> {
  const timeout = options.timeoutMs ?? 60_000
  const advance = options.advance ?? 1.5
  const sel = byTestId(testId)
  const fail = async (what: string, err: unknown): Promise<never> => {
    const state = await getVideoState(page, testId).catch(() => ({ present: false }))
    throw new Error(`${testId}: ${what} within ${timeout} ms; video state ${JSON.stringify(state)}`, { cause: err })
  }
  try {
    await page.waitForFunction(
      (s) => {
        const v = document.querySelector(s)
        return v instanceof HTMLVideoElement && v.readyState >= 3 && v.videoWidth > 0
      },
      sel,
      { timeout, polling: 200 },
    )
  } catch (err) {
    return fail('no decoded picture (readyState ≥ 3 and videoWidth > 0)', err)
  }
  const start = await page.evaluate((s) => (document.querySelector(s) as HTMLVideoElement).currentTime, sel)
  const startedAt = Date.now()
  try {
    await page.waitForFunction(
      ([s, t]) => {
        const v = document.querySelector(s as string)
        return v instanceof HTMLVideoElement && v.currentTime >= (t as number)
      },
      [sel, start + advance] as const,
      { timeout, polling: 200 },
    )
  } catch (err) {
    return fail(`currentTime did not advance ${advance} s past ${start.toFixed(2)}`, err)
  }
  const end = await getVideoState(page, testId)
  return {
    readyState: end.readyState ?? 0,
    videoWidth: end.videoWidth ?? 0,
    videoHeight: end.videoHeight ?? 0,
    advancedSeconds: (end.currentTime ?? 0) - start,
    wallMs: Date.now() - startedAt,
  }
}

/**
 * Init script (runs before the app's scripts): hooks every <video> that appears and records,
 * relative to navigation start, when its first frame was presented (requestVideoFrameCallback)
 * and when it fired 'playing' with a known size. Read back with `readFirstFrame`.
 */
export const FIRST_FRAME_HOOK = `(() => {
  const mark = { frame: undefined, playing: undefined, width: 0 };
  Object.defineProperty(window, '__relaycastFirstFrame', { value: mark });
  const hook = (v) => {
    if (v.__relaycastHooked) return;
    v.__relaycastHooked = true;
    if (typeof v.requestVideoFrameCallback === 'function') {
      v.requestVideoFrameCallback(() => { if (mark.frame === undefined) { mark.frame = performance.now(); mark.width = v.videoWidth; } });
    }
    const onPlaying = () => { if (v.videoWidth > 0 && mark.playing === undefined) mark.playing = performance.now(); };
    v.addEventListener('playing', onPlaying);
    v.addEventListener('resize', onPlaying);
  };
  const scan = (root) => { if (root.querySelectorAll) root.querySelectorAll('video').forEach(hook); if (root instanceof HTMLVideoElement) hook(root); };
  new MutationObserver((records) => { for (const r of records) r.addedNodes.forEach(scan); }).observe(document, { childList: true, subtree: true });
})();`

export interface FirstFrame {
  /** ms from navigation start to the first presented frame (rVFC), if it fired. */
  frame: number | undefined
  /** ms from navigation start to 'playing' with videoWidth > 0. */
  playing: number | undefined
  width: number
}

export function readFirstFrame(page: Page): Promise<FirstFrame> {
  return page.evaluate(() => {
    const m = (window as unknown as { __relaycastFirstFrame?: FirstFrame }).__relaycastFirstFrame
    return m ? { frame: m.frame, playing: m.playing, width: m.width } : { frame: undefined, playing: undefined, width: 0 }
  })
}

/**
 * Resolves once the hook saw the first presented frame; if requestVideoFrameCallback never fires
 * (it needs a compositor frame), 'playing' with a known size counts after `rvfcGraceMs`.
 */
export async function waitForFirstFrame(page: Page, timeoutMs: number, rvfcGraceMs = 3000): Promise<FirstFrame> {
  await page.waitForFunction(
    (grace) => {
      const m = (window as unknown as { __relaycastFirstFrame?: FirstFrame }).__relaycastFirstFrame
      return m !== undefined && (m.frame !== undefined || (m.playing !== undefined && performance.now() - m.playing > grace))
    },
    rvfcGraceMs,
    { timeout: timeoutMs, polling: 100 },
  )
  return readFirstFrame(page)
}
