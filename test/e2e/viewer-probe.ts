import { READ_STRIP_JS } from './stamp.ts'

/**
 * Init script for the viewer's page (runs before the app): hooks the first <video> that appears
 * and records, in epoch ms of this machine's clock (the pusher's clock too):
 * - every ~SAMPLE_MS, the stamp strip of the frame being presented (luma per cell) and when;
 * - the first presented frame;
 * - stalls: 'waiting' after playback began, with how long until 'playing' again.
 * Read (and drained) from Node with DRAIN_JS.
 */
export const SAMPLE_MS = 200

export interface ProbeSample {
  at: number
  luma: number[]
}

export interface ProbeState {
  firstFrameAt: number | undefined
  samples: ProbeSample[]
  stalls: Array<{ at: number; ms: number | undefined }>
  /** Seconds buffered ahead of the playhead, and the playback rate, at the last sample. */
  ahead: number
  rate: number
  width: number
  height: number
}

export const PROBE_INIT_JS = `(() => {
  const read = ${READ_STRIP_JS};
  const state = { firstFrameAt: undefined, samples: [], stalls: [], ahead: 0, rate: 1, width: 0, height: 0 };
  Object.defineProperty(window, '__g2g', { value: state });
  const hooked = new WeakSet(); let last = 0, playingOnce = false, stallStart = undefined;
  const sample = (v) => {
    if (!v.videoWidth) return;
    const now = Date.now();
    if (state.firstFrameAt === undefined && v.videoWidth > 0 && v.readyState >= 2) state.firstFrameAt = now;
    if (now - last < ${SAMPLE_MS}) return;
    last = now;
    try {
      const luma = read(v);
      if (luma) state.samples.push({ at: now, luma: luma.map((x) => Math.round(x)) });
    } catch (err) { state.error = String(err); }
    const b = v.buffered;
    state.ahead = b.length ? b.end(b.length - 1) - v.currentTime : 0;
    state.rate = v.playbackRate;
    state.width = v.videoWidth;
    state.height = v.videoHeight;
  };
  const hook = (v) => {
    if (hooked.has(v)) return;
    hooked.add(v);
    if (typeof v.requestVideoFrameCallback === 'function') {
      const onFrame = () => { sample(v); v.requestVideoFrameCallback(onFrame); };
      v.requestVideoFrameCallback(onFrame);
    }
    // Fallback when no compositor frames come (rVFC silent): sample on a timer too.
    setInterval(() => { if (!v.paused && v.readyState >= 2) sample(v); }, ${SAMPLE_MS});
    v.addEventListener('playing', () => {
      playingOnce = true;
      if (stallStart !== undefined) { state.stalls[state.stalls.length - 1].ms = Date.now() - stallStart; stallStart = undefined; }
    });
    v.addEventListener('waiting', () => {
      if (!playingOnce || v.seeking || stallStart !== undefined) return;
      stallStart = Date.now();
      state.stalls.push({ at: stallStart, ms: undefined });
    });
  };
  const scan = (root) => { if (root instanceof HTMLVideoElement) hook(root); else if (root.querySelectorAll) root.querySelectorAll('video').forEach(hook); };
  new MutationObserver((records) => { for (const r of records) r.addedNodes.forEach(scan); }).observe(document, { childList: true, subtree: true });
})();`

/** Returns the probe's state and empties its sample list. */
export const DRAIN_JS = `(() => {
  const s = window.__g2g;
  if (!s) return null;
  const out = { ...s, samples: s.samples.splice(0), stalls: s.stalls.slice() };
  return out;
})()`
