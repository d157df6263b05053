import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // the process-level tests spawn children and sleep on real clocks; two cores cannot take many at once
    maxWorkers: 2,
    reporters: ['default', './tests/faults/table-reporter.ts', './tests/summary-reporter.ts'],
  },
});
