/*
 * Every catalogued bug's known sequence is a known-answer test: it fails on the mutant with
 * one of the expected invariants and passes on the correct design. The entries marked quick
 * are also hunted at random with two fixed seeds (the full hunt is `npm run hunt`).
 */
import { describe, expect, it } from "vitest";
import { huntOne } from "../../cli/hunt.js";
import { type Cmd, cmdToString, raceOf } from "../../model/commands.js";
import { runSequence } from "../../properties/interpreter.js";
import { findDesign } from "../designs/index.js";
import { catalogue, mutantLabel } from "./catalogue.js";

describe("mutant catalogue: known sequences", () => {
  for (const m of catalogue) {
    it(`${m.id} ${mutantLabel(m)}: the known sequence fails on the mutant and passes on ${m.correct}`, () => {
      const design = findDesign(m.design);
      const correct = findDesign(m.correct);
      expect(design && correct).toBeTruthy();
      if (!design || !correct) return;
      const bad = runSequence(design, m.minimal, { mutant: m.mutant, quirks: m.quirks });
      expect(bad.failure, m.minimal.map(cmdToString).join("; ")).toBeDefined();
      expect(m.invariants).toContain(bad.failure?.invariant);
      const good = runSequence(correct, m.minimal);
      expect(good.failure?.message).toBeUndefined();
    });
    if (m.failAlloc !== undefined) {
      it(`${m.id} ${mutantLabel(m)}: without its failure point the known sequence passes on the mutant`, () => {
        const design = findDesign(m.design);
        if (!design) throw new Error(m.design);
        const plain = m.minimal.map((c) => {
          const { failAlloc: _n, ...rest } = c as Cmd & { failAlloc?: number };
          return rest as Cmd;
        });
        const r = runSequence(design, plain, { mutant: m.mutant, quirks: m.quirks });
        expect(r.failure?.message).toBeUndefined();
      });
    }
    if (m.interleave !== undefined) {
      it(`${m.id} ${mutantLabel(m)}: without its race (the command, then the walk or fault) the known sequence passes on the mutant`, () => {
        const design = findDesign(m.design);
        if (!design) throw new Error(m.design);
        const sequential = m.minimal.map((c) => {
          const race = raceOf(c);
          return race ? ({ ...c, race: { ...race, schedule: [] } } as Cmd) : c;
        });
        const r = runSequence(design, sequential, { mutant: m.mutant, quirks: m.quirks });
        expect(r.failure?.message).toBeUndefined();
      });
    }
  }
});

/**
 * A budget of runs, not of seconds: a seed's search is deterministic, so whether it finds the
 * bug within the budget does not depend on how busy the machine is (speed is the bench's
 * business). The time limit is only a backstop far above what any entry needs.
 */
const quickRuns = 40_000;
describe("quick hunt: random search finds the fast mutants", () => {
  for (const m of catalogue.filter((e) => e.quick)) {
    it(`${m.id} ${mutantLabel(m)}: found by random search with seeds 1 and 2 within ${quickRuns} runs`, () => {
      for (const seed of [1, 2]) {
        const r = huntOne(m, seed, 280, quickRuns);
        expect(r.found, `seed ${seed}`).toBe(true);
        expect(m.invariants).toContain(r.invariant);
      }
    }, 600_000);
  }
});
