import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sweepEndedStreams } from './retention.ts'

const PLAYLIST = '#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:1.0,\nv-0.ts\n'

describe('sweeping ended streams', () => {
  let root: string
  const old = new Date(Date.now() - 2 * 3600_000)

  async function stream(id: string, files: Record<string, string>, mtime?: Date): Promise<void> {
    const dir = join(root, id)
    await mkdir(dir, { recursive: true })
    for (const [name, text] of Object.entries(files)) {
      await writeFile(join(dir, name), text)
      if (mtime) await utimes(join(dir, name), mtime, mtime)
    }
    if (mtime) await utimes(dir, mtime, mtime)
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'relaycast-retention-'))
    await stream('ended-old', { 'master.m3u8': '#EXTM3U\n', 'a.m3u8': `${PLAYLIST}#EXT-X-ENDLIST\n`, 'a-0.ts': 'x' }, old)
    await stream('ended-recent', { 'a.m3u8': `${PLAYLIST}#EXT-X-ENDLIST\n` })
    await stream('live-old', { 'master.m3u8': '#EXTM3U\n', 'a.m3u8': `${PLAYLIST}#EXT-X-ENDLIST\n`, 'b.m3u8': PLAYLIST }, old)
    await stream('active-old', { 'a.m3u8': `${PLAYLIST}#EXT-X-ENDLIST\n` }, old)
    await writeFile(join(root, 'stray-file'), 'x')
  })
  afterAll(async () => {
    await rm(root, { recursive: true, force: true })
  })

  it('removes only streams whose playlists all ended and that were left alone past the retention time', async () => {
    const removed = await sweepEndedStreams({ root, retentionMs: 3600_000, isActive: (id) => id === 'active-old' })
    expect(removed).toEqual(['ended-old'])
    expect((await readdir(root)).sort()).toEqual(['active-old', 'ended-recent', 'live-old', 'stray-file'])
  })

  it('is fine with a root that does not exist yet', async () => {
    expect(await sweepEndedStreams({ root: join(root, 'nope'), retentionMs: 1 })).toEqual([])
  })
})
