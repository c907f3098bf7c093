/**
 * The player's one way in to hls.js. A dynamic import of 'hls.js/light' itself would keep every
 * one of its ~50 named exports (esbuild cannot know which a namespace's user reads); importing
 * this module instead lets esbuild drop the ones the player never touches.
 */
export { default } from 'hls.js/light'
