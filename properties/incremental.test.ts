/*
 * Why this test? Incremental checking (only what a step touched, with a full check every N
 * steps) is how long campaigns stay fast; it is only allowed if it reaches the same verdicts
 * as checking everything after every step. For every design and every planted mutant, both
 * modes must agree on pass/fail and on the invariant that failed.
 */
import { describe, expect, it } from "vitest";
import { designs } from "../impl/designs/index.js";
import { checkDesign } from "./property.js";

const cases = designs.flatMap((d) => [undefined, ...(d.mutants ?? [])].map((mutant) => ({ design: d, mutant })));

describe("incremental and full checking reach the same verdicts", () => {
  for (const { design, mutant } of cases) {
    const name = mutant ? `${design.name}/${mutant}` : design.name;
    it(`${name}: same verdict with --check-every 1 and --check-every 16`, () => {
      for (const seed of [11, 12]) {
        const full = checkDesign({ design, mutant, seed, runs: 150, checkEvery: 1 });
        const incr = checkDesign({ design, mutant, seed, runs: 150, checkEvery: 16, incremental: true });
        expect(incr.ok, `seed ${seed}`).toBe(full.ok);
        expect(incr.counterexample?.failure.invariant, `seed ${seed}`).toBe(full.counterexample?.failure.invariant);
      }
    });
  }
});
