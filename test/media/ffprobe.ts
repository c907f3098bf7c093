import { execFile } from 'node:child_process'

export interface ProbedStream {
  codec_type: 'video' | 'audio' | string
  codec_name: string
  width?: number
  height?: number
  avg_frame_rate?: string
  sample_rate?: string
}

/** ffprobe's streams for a file or URL (a variant playlist, a segment). */
export function ffprobe(target: string, timeoutMs = 15_000): Promise<ProbedStream[]> {
  return new Promise((resolve, reject) => {
    execFile(
      'ffprobe',
      ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name,width,height,avg_frame_rate,sample_rate', '-of', 'json', target],
      { timeout: timeoutMs },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`ffprobe failed: ${stderr || err.message}`, { cause: err }))
        resolve((JSON.parse(stdout) as { streams: ProbedStream[] }).streams)
      },
    )
  })
}
