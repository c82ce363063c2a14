// Every test must assert something: a test that returns early or only runs code passes
// without checking its promise. Loaded for every test file (vitest.config.ts setupFiles).
import { beforeEach, expect } from 'vitest';

beforeEach(() => {
  expect.hasAssertions();
});
