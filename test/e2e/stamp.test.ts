import { execFile } from 'node:child_process'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { buildStampedPushArgs } from './stamped-push.ts'
import { CELLS, READ_STRIP_JS, STAMP_BITS, STRIP_FRACTION, decodeCells, drawStamp, encodeStamp, lumaToCells, sampleCells } from './stamp.ts'

const msArb = fc.integer({ min: 0, max: 2 ** STAMP_BITS - 1 })

/** The strip rows of a luma plane as RGBA (grey), like a canvas would hold them. */
function stripRgba(y: Uint8Array, width: number, height: number): { rgba: Uint8Array; rows: number } {
  const rows = Math.round(height * STRIP_FRACTION)
  const rgba = new Uint8Array(width * rows * 4)
  for (let i = 0; i < width * rows; i++) rgba.fill(y[i], i * 4, i * 4 + 3), (rgba[i * 4 + 3] = 255)
  return { rgba, rows }
}

function ffmpegRoundTrip(y: Uint8Array, width: number, height: number, outWidth: number, outHeight: number, kbps: number): Promise<Uint8Array> {
  // Encode the frame (neutral chroma) as H.264 at a low bitrate, scale it like a lower rung, decode to RGBA.
  const frame = Buffer.concat([Buffer.from(y), Buffer.alloc(width * height / 2, 128)])
  const encode = ['-hide_banner', '-loglevel', 'error', '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-video_size', `${width}x${height}`, '-framerate', '30', '-i', 'pipe:0']
  const out = ['-vf', `scale=${outWidth}:${outHeight}:flags=bilinear`, '-c:v', 'libx264', '-preset', 'superfast', '-b:v', `${kbps}k`, '-f', 'h264', '-']
  return new Promise((resolve, reject) => {
    const enc = execFile('ffmpeg', [...encode, ...out], { encoding: 'buffer', maxBuffer: 1 << 26 }, (err, h264) => {
      if (err) return reject(err)
      const dec = execFile('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'h264', '-i', 'pipe:0', '-frames:v', '1', '-pix_fmt', 'rgba', '-f', 'rawvideo', '-'], { encoding: 'buffer', maxBuffer: 1 << 26 }, (e, rgba) =>
        e ? reject(e) : resolve(new Uint8Array(rgba)),
      )
      dec.stdin!.end(h264)
    })
    enc.stdin!.end(frame)
  })
}

describe('glass-to-glass stamp', () => {
  it('invariant: decodeCells(encodeStamp(ms)) === ms for every 42-bit time', () => {
    fc.assert(fc.property(msArb, (ms) => decodeCells(encodeStamp(ms)) === ms), { numRuns: 1000 })
  })

  it('invariant: one flipped cell never reads as another time', () => {
    fc.assert(
      fc.property(msArb, fc.integer({ min: 0, max: CELLS - 1 }), (ms, i) => {
        const cells = encodeStamp(ms)
        cells[i] = !cells[i]
        return decodeCells(cells) === undefined
      }),
      { numRuns: 1000 },
    )
  })

  it('refuses a frame without a strip (all grey or all black)', () => {
    expect(decodeCells(lumaToCells(new Array(CELLS).fill(100)))).toBeUndefined()
    expect(decodeCells(lumaToCells(new Array(CELLS).fill(200)))).toBeUndefined()
    expect(decodeCells([true])).toBeUndefined()
    expect(() => encodeStamp(2 ** STAMP_BITS)).toThrow(RangeError)
  })

  it('invariant: a drawn stamp reads back from the pixels at any frame size', () => {
    fc.assert(
      fc.property(msArb, fc.constantFrom([1280, 720], [1920, 1080], [854, 480], [640, 360], [426, 240]), (ms, [w, h]) => {
        const y = new Uint8Array(w * h).fill(90)
        drawStamp(y, w, h, ms)
        const { rgba, rows } = stripRgba(y, w, h)
        return decodeCells(lumaToCells(sampleCells(rgba, w, rows))) === ms
      }),
      { numRuns: 100 },
    )
  })

  it('survives H.264 at a starved bitrate and a downscale to 360p (real ffmpeg)', async () => {
    const ms = Date.now()
    const [w, h] = [1280, 720]
    const y = new Uint8Array(w * h)
    for (let i = 0; i < y.length; i++) y[i] = (i * 7919) % 251 // noise: the encoder must spend bits elsewhere
    drawStamp(y, w, h, ms)
    const rgba = await ffmpegRoundTrip(y, w, h, 640, 360, 150)
    const rows = Math.round(360 * STRIP_FRACTION)
    expect(decodeCells(lumaToCells(sampleCells(rgba.subarray(0, 640 * rows * 4), 640, rows)))).toBe(ms)
  }, 30_000)

  it('the page-side reader is a function the browser can run', () => {
    const read = new Function(`return ${READ_STRIP_JS}`)() as (v: unknown) => unknown
    expect(typeof read).toBe('function')
    expect(read(null)).toBeNull()
  })

  it('the stamped push encodes like OBS: fixed keyframe interval, zerolatency, frames from stdin on the wall clock', () => {
    const args = buildStampedPushArgs({ url: 'rtmp://h/live/k', width: 1280, height: 720, fps: 30, keyframeSeconds: 1, videoBitrateKbps: 2500 })
    const after = (flag: string) => args[args.indexOf(flag) + 1]
    expect(after('-g')).toBe('30')
    expect(after('-keyint_min')).toBe('30')
    expect(after('-tune')).toBe('zerolatency')
    expect(after('-use_wallclock_as_timestamps')).toBe('1')
    expect(args[args.indexOf('-i') + 1]).toBe('pipe:0')
    expect(args.at(-1)).toBe('rtmp://h/live/k')
  })
})
