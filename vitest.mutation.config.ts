import { defineConfig } from "vitest/config";

// The suite Stryker runs against each mutant of impl/ (npm run mutation): the kernel's
// known-answer scenarios and the property at mutation-testing size (fixed seed, few runs,
// shrinking off) for every design, so verdicts are fast and do not flap.
export default defineConfig({
  test: {
    include: ["impl/kernel.test.ts", "properties/mutation.test.ts"],
    exclude: ["node_modules/**", "dist/**"],
    testTimeout: 120_000,
    bail: 1,
  },
});
