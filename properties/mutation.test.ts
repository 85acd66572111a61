/*
 * The property as Stryker runs it against each mutant of impl/ (npm run mutation): fixed
 * seeds, few runs, no shrinking — only the verdict matters, and it must not flap.
 */
import { describe, expect, it } from "vitest";
import { designs } from "../impl/designs/index.js";
import { checkDesign } from "./property.js";

const knownFlawed = new Set(["anon-vma-rfc", "anon-vma-chain-3.19"]);

describe("property (mutation-testing size)", () => {
  for (const design of designs.filter((d) => !knownFlawed.has(d.name))) {
    it(`${design.name}: 60 sequences hold (seed 3)`, () => {
      expect(checkDesign({ design, seed: 3, runs: 60, shrink: false }).ok).toBe(true);
    });
  }
});
