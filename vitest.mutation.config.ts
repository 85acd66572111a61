import { defineConfig } from "vitest/config";

// The suite Stryker runs against each mutant of impl/: the known-answer scenarios and the
// property with fixed seeds, shrinking off (RMAPCHECK_SHRINK=0) so verdicts are fast and stable.
export default defineConfig({
  test: {
    include: ["impl/**/*.test.ts", "properties/mutation.test.ts"],
    exclude: ["node_modules/**", "dist/**", "impl/mutants/**"],
    env: { RMAPCHECK_SHRINK: "0" },
    testTimeout: 120_000,
  },
});
