/*
 * Allocation-failure injection (impl/alloc.ts, docs/semantics.md "Allocation failures").
 *
 * Why these tests? Error paths are where kernels leak and free too early, and they run only
 * when an allocation fails. Like syzkaller's fail_nth loop, the first suite fails each
 * allocation of each command of a fixed sequence in turn, on every design: every failure must
 * unwind to a state where the model and all checkers agree (I8 after the step, I9 after the
 * exits). The others pin down what a process observes, the printing, the shrinking and the
 * report format.
 */
import { describe, expect, it } from "vitest";
import { type Cmd, cmdToString, failAllocOf, failableOps, ordinal } from "../model/commands.js";
import { designs, findDesign } from "../impl/designs/index.js";
import { findMutant } from "../impl/mutants/catalogue.js";
import { cmdSchema } from "./report-schema.js";
import { runSequence } from "./interpreter.js";
import { checkDesign } from "./property.js";

const anon = (mm: number, addr: number, len: number): Cmd => ({ op: "mmap", mm, addr, len, kind: "anon", prot: "rw", fixed: true });

/**
 * Three processes, anon and file vmas, COW, splits, merges (one where a vma without an
 * anon_vma absorbs one with: dup_anon_vma), MAP_FIXED over a mapping, migration.
 */
const scenario: readonly Cmd[] = [
  { op: "mmap", mm: 1, addr: 10, len: 1, kind: "anon", prot: "r", fixed: true },
  anon(1, 11, 1),
  { op: "write", mm: 1, addr: 11, token: 9 },
  { op: "mprotect", mm: 1, addr: 11, len: 1, prot: "r" },
  anon(1, 1, 4),
  { op: "write", mm: 1, addr: 1, token: 1 },
  { op: "write", mm: 1, addr: 3, token: 2 },
  { op: "mmap", mm: 1, addr: 6, len: 2, kind: "private-file", prot: "rw", fixed: true, file: 0, pgoff: 0 },
  { op: "read", mm: 1, addr: 6 },
  { op: "fork", mm: 1, child: 2 },
  { op: "write", mm: 2, addr: 1, token: 3 },
  { op: "write", mm: 2, addr: 7, token: 4 },
  { op: "mprotect", mm: 2, addr: 2, len: 1, prot: "r" },
  { op: "mprotect", mm: 2, addr: 2, len: 1, prot: "rw" },
  { op: "mlock", mm: 1, addr: 2, len: 5 },
  { op: "munlock", mm: 1, addr: 2, len: 5 },
  { op: "fork", mm: 2, child: 3 },
  { op: "mmap", mm: 3, addr: 2, len: 2, kind: "anon", prot: "rw", fixed: true },
  { op: "write", mm: 3, addr: 3, token: 5 },
  { op: "munmap", mm: 1, addr: 2, len: 1 },
  { op: "migrate", mm: 2, addr: 1 },
];

const withFailure = (cmds: readonly Cmd[], i: number, n: number): Cmd[] =>
  cmds.map((c, j) => (j === i ? ({ ...c, failAlloc: n } as Cmd) : c));

describe("every allocation of every command fails in turn", () => {
  // anon-vma-rfc is primer D1 itself: the scenario's split already breaks it without a failure.
  for (const design of designs.filter((d) => d.name !== "anon-vma-rfc")) {
    it(`${design.name}: each failure unwinds to a state the model and every checker accept`, () => {
      expect(runSequence(design, scenario, { history: false }).failure?.message).toBeUndefined();
      let fired = 0;
      for (let i = 0; i < scenario.length; i++) {
        if (!failableOps.has((scenario[i] as Cmd).op)) continue;
        for (let n = 1; n <= 24; n++) {
          const cmds = withFailure(scenario, i, n);
          const r = runSequence(design, cmds, { history: false });
          expect(r.failure?.message, `${cmdToString(cmds[i] as Cmd)} (step ${i})`).toBeUndefined();
          if (r.records[i]?.kernel.kind === "errno") fired++;
        }
      }
      expect(fired).toBeGreaterThan(0);
    });
  }
});

describe("the same loop catches every error-path bug of the catalogue", () => {
  for (const id of ["B2", "B12", "B13", "H5"]) {
    it(`${id}: some failure point of the scenario breaks an invariant`, () => {
      const m = findMutant(id);
      const design = m && findDesign(m.design);
      if (!m || !design) throw new Error(id);
      const caught = new Set<string>();
      for (let i = 0; i < scenario.length; i++) {
        if (!failableOps.has((scenario[i] as Cmd).op)) continue;
        for (let n = 1; n <= 24; n++) {
          const r = runSequence(design, withFailure(scenario, i, n), { mutant: m.mutant, quirks: m.quirks, history: false });
          if (r.failure) caught.add(r.failure.invariant);
        }
      }
      expect([...caught].some((inv) => m.invariants.includes(inv)), `caught ${[...caught]}`).toBe(true);
    });
  }
});

describe("what a process observes when an allocation fails", () => {
  const avc = findDesign("anon-vma-chain");
  if (!avc) throw new Error("anon-vma-chain");
  const outcomes = (cmds: readonly Cmd[]) => runSequence(avc, cmds).records.map((r) => r.kernel);

  it("anon-vma-chain: fork returns ENOMEM at every allocation it makes, and no child exists", () => {
    const base = [anon(1, 1, 2), { op: "write", mm: 1, addr: 1, token: 7 } as Cmd];
    // mm_struct, maple tree, vm_area_struct, anon_vma_chain (clone), anon_vma, anon_vma_chain.
    for (let n = 1; n <= 6; n++) {
      const r = runSequence(avc, [...base, { op: "fork", mm: 1, child: 2, failAlloc: n }, { op: "read", mm: 2, addr: 1 }]);
      expect(r.failure).toBeUndefined();
      expect(r.records[2]?.kernel, `failAlloc ${n}`).toEqual({ kind: "errno", errno: "ENOMEM" });
      expect(r.records[3]?.kernel, `failAlloc ${n}`).toEqual({ kind: "skip", why: "no mm2" });
    }
    const past = runSequence(avc, [...base, { op: "fork", mm: 1, child: 2, failAlloc: 7 }, { op: "read", mm: 2, addr: 1 }]);
    expect(past.records[2]?.kernel).toEqual({ kind: "ok" });
    expect(past.records[3]?.kernel).toEqual({ kind: "value", value: 7 });
  });

  it("anon-vma-chain: a failed MAP_FIXED mmap leaves the old mapping and its data", () => {
    const out = outcomes([
      anon(1, 1, 3),
      { op: "write", mm: 1, addr: 2, token: 9 },
      { op: "mmap", mm: 1, addr: 2, len: 1, kind: "anon", prot: "r", fixed: true, failAlloc: 2 },
      { op: "read", mm: 1, addr: 2 },
    ]);
    expect(out[2]).toEqual({ kind: "errno", errno: "ENOMEM" });
    expect(out[3]).toEqual({ kind: "value", value: 9 });
  });

  it("anon-vma-chain: mprotect over two vmas stops at the one whose split fails", () => {
    //   1 2 3 4 5
    //   a a f f .     a: anon, read-only; f: file0, read-only. mprotect(rw) of [2, 4) splits
    //     ^ ^         a at 2 (allocations 1-2: vma, maple tree) and changes [2, 3), then
    //                 splits f at 4: its vma, the 3rd allocation, fails.
    const r = runSequence(avc, [
      { op: "mmap", mm: 1, addr: 1, len: 2, kind: "anon", prot: "r", fixed: true },
      { op: "mmap", mm: 1, addr: 3, len: 2, kind: "private-file", prot: "r", fixed: true, file: 0, pgoff: 0 },
      { op: "mprotect", mm: 1, addr: 2, len: 2, prot: "rw", failAlloc: 3 },
      { op: "write", mm: 1, addr: 2, token: 2 },
      { op: "write", mm: 1, addr: 3, token: 3 },
      { op: "write", mm: 1, addr: 1, token: 1 },
    ]);
    expect(r.failure).toBeUndefined();
    expect(r.records[2]?.kernel).toEqual({ kind: "errno", errno: "ENOMEM" });
    expect(r.records[3]?.kernel).toEqual({ kind: "ok" }); // [2, 3) was changed
    expect(r.records[4]?.kernel).toEqual({ kind: "signal", signal: "SIGSEGV" }); // f was not
    expect(r.records[5]?.kernel).toEqual({ kind: "signal", signal: "SIGSEGV" }); // nor below the range
  });


  it("anon-vma-chain: a write whose fault fails is retried and observed as if nothing failed", () => {
    for (let n = 1; n <= 3; n++) {
      const r = runSequence(avc, [anon(1, 1, 1), { op: "write", mm: 1, addr: 1, token: 5, failAlloc: n }, { op: "read", mm: 1, addr: 1 }]);
      expect(r.failure).toBeUndefined();
      expect(r.records[1]?.kernel).toEqual({ kind: "ok" });
      expect(r.records[2]?.kernel).toEqual({ kind: "value", value: 5 });
    }
  });
});

describe("failure points as data", () => {
  it("print as the n-th allocation failing", () => {
    expect(cmdToString({ op: "fork", mm: 3, child: 4, failAlloc: 3 })).toBe("fork(mm3) → mm4 with the 3rd allocation failing");
    expect([1, 2, 3, 4, 11, 12, 13, 21, 22].map(ordinal)).toEqual(["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd"]);
  });

  it("load from a report, and a command without one loads as before", () => {
    expect(cmdSchema.parse({ op: "fork", mm: 1, child: 2, failAlloc: 3 })).toEqual({ op: "fork", mm: 1, child: 2, failAlloc: 3 });
    expect(cmdSchema.parse({ op: "fork", mm: 1, child: 2 })).toEqual({ op: "fork", mm: 1, child: 2 });
    expect(cmdSchema.safeParse({ op: "fork", mm: 1, child: 2, failAlloc: 0 }).success).toBe(false);
  });

  it("are generated only with --fail-alloc, and the same seed gives the same sequences without it", () => {
    const design = findDesign("anon-vma");
    if (!design) throw new Error("anon-vma");
    const off = checkDesign({ design, seed: 9, runs: 50 });
    const on = checkDesign({ design, seed: 9, runs: 50, failAlloc: 0.5 });
    expect(off.stats.failurePoints).toBe(0);
    expect(on.stats.failurePoints).toBeGreaterThan(0);
    expect(on.stats.failuresFired).toBeGreaterThan(0);
    expect(on.ok).toBe(true);
  });

  it("shrink: B2's counterexample found at random keeps one failure point, lowered as far as it still fails", () => {
    const design = findDesign("anon-vma-chain-3.19");
    if (!design) throw new Error("anon-vma-chain-3.19");
    const mutant = "b2-clone-error-keeps-anon-vma";
    const cx = checkDesign({ design, mutant, seed: 1, runs: 1000, failAlloc: 0.6 }).counterexample;
    expect(cx?.failure.invariant).toBe("I8");
    const failing = cx?.commands.filter((c) => failAllocOf(c) !== undefined) ?? [];
    expect(failing).toHaveLength(1);
    // The split's vma is its first allocation: only the chain object's (the 2nd) shows B2.
    expect(failAllocOf(failing[0] as Cmd)).toBe(2);
    const lowered = (cx?.commands ?? []).map((c) => (failAllocOf(c) !== undefined ? ({ ...c, failAlloc: 1 } as Cmd) : c));
    expect(runSequence(design, lowered, { mutant }).failure).toBeUndefined();
  });

});
