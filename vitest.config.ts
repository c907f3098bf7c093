import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'data/**', 'dist/**'],
    // Real servers, ffmpeg and Chromium run in tests: give them room, but keep files in separate
    // processes so a crash in one cannot take the others down.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
})
