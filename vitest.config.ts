import { defineConfig } from 'vitest/config';

// Test tiers (STYLE.md "Tests"): all of them run on every `npm test`.
// - unit: pure code and in-memory fakes of our own interfaces
// - contract: vendor payloads and rendered configs against their schemas
// - infra: CDK template assertions
// - integration / e2e: the real parts (kube-apiserver + etcd + scheduler + controller-manager,
//   a DynamoDB-compatible server over HTTP, wireproxy, provider simulators)
// The simulators enforce the vendors' rate limits (Vast's minimum intervals: 4.5 s per create)
// and the adapters pace to them; tests run both 20× faster. `npm run bench` and the demo use
// the real intervals.
const env = { ANEX_SIM_PACE_SCALE: '0.05' };
// Some unit and contract tests start the CLI as a process; on a loaded 2-core machine that
// alone can pass vitest's 5 s default. Speed is measured in `npm run bench`, not here.
const testTimeout = 30_000;

export default defineConfig({
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], env, testTimeout } },
      { test: { name: 'contract', include: ['test/contract/**/*.test.ts'], env, testTimeout } },
      { test: { name: 'infra', include: ['test/infra/**/*.test.ts'], testTimeout: 120_000 } },
      {
        test: {
          name: 'integration',
          env,
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 600_000,
          // The control plane is shared by the run; files run one at a time on a 2-core machine.
          fileParallelism: false,
        },
      },
    ],
  },
});
