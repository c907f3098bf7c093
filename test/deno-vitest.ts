// Under Deno, protocol tests import "vitest" through deno.json's import map and land here:
// node:test provides describe/it (Deno implements it), the `expect` package provides Jest's
// matchers. Only what protocol tests use is offered, so a test that needs more fails loudly.
export { describe, it, test, before as beforeAll, after as afterAll, beforeEach, afterEach } from 'node:test'
export { expect } from 'expect'
