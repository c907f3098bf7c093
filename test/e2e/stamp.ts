/**
 * A wall-clock stamp burned into video frames and read back from the pixels a player shows, for
 * glass-to-glass latency. The frame's top strip (1/8 of its height) is split into CELLS equal
 * columns, each black or white:
 *
 *   [white][black][42 bits of epoch ms, most significant first][even parity][black][white][black]
 *
 * Whole-cell black/white blocks survive H.264 at any bitrate and any downscale of the ladder
 * (the 360p rung still has 13 px cells); the sync cells at both ends and the parity bit reject a
 * frame whose strip is not there or is torn. Reading samples each cell's middle third only.
 */

export const CELLS = 48
export const STAMP_BITS = 42
/** The strip's height as a fraction of the frame's. */
export const STRIP_FRACTION = 1 / 8
const LEAD = [true, false]
const TAIL = [false, true, false]

/** The cells (true = white) for a time in epoch milliseconds. */
export function encodeStamp(ms: number): boolean[] {
  if (!Number.isSafeInteger(ms) || ms < 0 || ms >= 2 ** STAMP_BITS) throw new RangeError(`stamp out of range: ${ms}`)
  const bits: boolean[] = []
  for (let i = STAMP_BITS - 1; i >= 0; i--) bits.push(Math.floor(ms / 2 ** i) % 2 === 1)
  const parity = bits.filter(Boolean).length % 2 === 1
  return [...LEAD, ...bits, parity, ...TAIL]
}

/** The time in a row of cells, or undefined when the sync cells or the parity do not match. */
export function decodeCells(cells: readonly boolean[]): number | undefined {
  if (cells.length !== CELLS) return undefined
  const tail = cells.slice(CELLS - TAIL.length)
  if (LEAD.some((v, i) => cells[i] !== v) || TAIL.some((v, i) => tail[i] !== v)) return undefined
  const bits = cells.slice(LEAD.length, LEAD.length + STAMP_BITS)
  if ((bits.filter(Boolean).length % 2 === 1) !== cells[LEAD.length + STAMP_BITS]) return undefined
  let ms = 0
  for (const bit of bits) ms = ms * 2 + (bit ? 1 : 0)
  return ms
}

/** Luma values (0–255) of each cell's middle to cells, thresholded halfway. */
export function lumaToCells(luma: readonly number[]): boolean[] {
  return luma.map((v) => v >= 128)
}

/** Writes the stamp into an 8-bit luma plane (yuv420p's Y), leaving the rest of the frame alone. */
export function drawStamp(y: Uint8Array, width: number, height: number, ms: number): void {
  const cells = encodeStamp(ms)
  const rows = Math.max(1, Math.round(height * STRIP_FRACTION))
  for (let c = 0; c < CELLS; c++) {
    const x0 = Math.floor((c * width) / CELLS)
    const x1 = Math.floor(((c + 1) * width) / CELLS)
    const v = cells[c] ? 235 : 16 // video range, as a camera would deliver
    for (let r = 0; r < rows; r++) y.fill(v, r * width + x0, r * width + x1)
  }
}

/**
 * Mean luma of each cell's middle third (both ways) from RGBA pixels: a canvas's getImageData of
 * the frame's strip drawn at any size (only proportions matter). Written as source text and
 * compiled here, so the viewer's page runs exactly the same code (READ_STRIP_JS) with nothing a
 * test runner's transform might add.
 */
const SAMPLE_CELLS_JS = `function sampleCells(rgba, width, height) {
  const out = []
  for (let c = 0; c < ${CELLS}; c++) {
    const x0 = Math.floor(((c + 1 / 3) * width) / ${CELLS})
    const x1 = Math.max(x0 + 1, Math.floor(((c + 2 / 3) * width) / ${CELLS}))
    const y0 = Math.floor(height / 3)
    const y1 = Math.max(y0 + 1, Math.floor((2 * height) / 3))
    let sum = 0
    let n = 0
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const i = (y * width + x) * 4
        sum += (rgba[i] + rgba[i + 1] + rgba[i + 2]) / 3
        n++
      }
    }
    out.push(sum / n)
  }
  return out
}`

export const sampleCells = new Function(`return ${SAMPLE_CELLS_JS}`)() as (rgba: ArrayLike<number>, width: number, height: number) => number[]

/**
 * Page-side reader, as source text (a function of the <video>): draws only the strip of the frame
 * on screen into a small canvas and returns sampleCells' luma values, or null before a frame.
 */
export const READ_STRIP_JS = `(video) => {
  if (!video || video.readyState < 2 || !video.videoWidth) return null
  const w = ${CELLS * 10}, h = 12
  const canvas = (globalThis.__stampCanvas ??= document.createElement('canvas'))
  canvas.width = w
  canvas.height = h
  const ctx = canvas.getContext('2d', { willReadFrequently: true })
  ctx.drawImage(video, 0, 0, video.videoWidth, Math.max(1, Math.round(video.videoHeight * ${STRIP_FRACTION})), 0, 0, w, h)
  return (${SAMPLE_CELLS_JS})(ctx.getImageData(0, 0, w, h).data, w, h)
}`
