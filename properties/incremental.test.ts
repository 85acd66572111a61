/*
 * Why this test? Incremental checking (only what a step touched, with a full check every N
 * steps) is how long campaigns stay fast; it is only allowed if it reaches the same verdicts
 * as checking everything after every step. For every design, every planted mutant and every
 * kernel quirk of the catalogue, both modes must agree on pass/fail and on the invariant that
 * failed.
 */
import { describe, expect, it } from "vitest";
import { designs, findDesign } from "../impl/designs/index.js";
import { catalogue } from "../impl/mutants/catalogue.js";
import { checkDesign } from "./property.js";

type Design = (typeof designs)[number];
const cases: { name: string; design: Design; mutant?: string; quirks?: readonly string[] }[] = [
  ...designs.flatMap((d) => [undefined, ...(d.mutants ?? [])].map((mutant) => ({ name: mutant ? `${d.name}/${mutant}` : d.name, design: d, mutant }))),
  ...catalogue
    .filter((m) => m.quirks !== undefined)
    .map((m) => ({ name: `${m.id} ${m.design}+${(m.quirks ?? []).join("+")}`, design: findDesign(m.design) as Design, mutant: m.mutant, quirks: m.quirks })),
];

describe("incremental and full checking reach the same verdicts", () => {
  for (const { name, design, mutant, quirks } of cases) {
    it(`${name}: same verdict with --check-every 1 and --check-every 16`, () => {
      for (const seed of [11, 12]) {
        const full = checkDesign({ design, mutant, quirks, seed, runs: 150, checkEvery: 1 });
        const incr = checkDesign({ design, mutant, quirks, seed, runs: 150, checkEvery: 16, incremental: true });
        expect(incr.ok, `seed ${seed}`).toBe(full.ok);
        expect(incr.counterexample?.failure.invariant, `seed ${seed}`).toBe(full.counterexample?.failure.invariant);
      }
    });
  }
});
