/*
 * The comparison's claims, at small scale: each metric moves the way the design's structure
 * says it must (primer §7, seeds 003/004), with the invariant verdict clean beside it.
 */
import { describe, expect, it } from "vitest";
import { designs } from "../impl/designs/index.js";
import { measure } from "./measure.js";
import { findWorkload } from "./workloads.js";

const design = (name: string) => {
  const d = designs.find((x) => x.name === name);
  if (!d) throw new Error(`no design ${name}`);
  return d;
};
const run = (name: string, workload: string, scale: number) => {
  const w = findWorkload(workload);
  if (!w) throw new Error(`no workload ${workload}`);
  const m = measure(design(name), w, scale);
  expect(m.verdict.ok, `${name} ${workload}@${scale}: ${m.verdict.message}`).toBe(true);
  return m;
};

describe("compare: the metrics show each design's costs", () => {
  it("fork-exit-churn: pte-chain's fork work grows with mapped PTEs, the object-based designs' does not", () => {
    const small = run("pte-chain", "fork-exit-churn", 64).forkRmapOpsPerFork;
    const big = run("pte-chain", "fork-exit-churn", 256).forkRmapOpsPerFork;
    expect(big).toBeGreaterThan(3 * small);
    for (const name of ["anon-vma", "anon-vma-chain", "anonmm"]) {
      const a = run(name, "fork-exit-churn", 64).forkRmapOpsPerFork;
      const b = run(name, "fork-exit-churn", 256).forkRmapOpsPerFork;
      expect(a, name).toBeGreaterThan(0);
      expect(b, name).toBe(a);
    }
  });

  it("mremap-shared-anon: anonmm forces COW copies, anon-vma none", () => {
    expect(run("anonmm", "mremap-shared-anon", 16).forcedCopies).toBeGreaterThan(0);
    expect(run("anon-vma", "mremap-shared-anon", 16).forcedCopies).toBe(0);
  });

  it("many-windows-one-file: the interval tree visits fewer vmas per walk than the i_mmap list", () => {
    const list = run("objrmap", "many-windows-one-file", 256).vmasVisitedPerWalk;
    const tree = run("objrmap-interval-tree", "many-windows-one-file", 256).vmasVisitedPerWalk;
    expect(tree).toBeLessThan(list / 4);
  });
});
