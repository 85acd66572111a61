/*
 * objrmap: known-answer scenarios, the property, and the planted bugs.
 *
 * Pictures: one row per mm, letters are vmas (uppercase: a present PTE, lowercase: none);
 * F is a page-cache page, X an anonymous page. "@n" is a vma's vm_pgoff.
 */
import { describe, expect, it } from "vitest";
import { type Cmd, type MapKind, cmdToString } from "../../model/commands.js";
import { Session } from "../../properties/interpreter.js";
import { checkDesign } from "../../properties/property.js";
import { PTE_CHAIN, PteChainStore } from "../structures/pte-chain.js";
import type { Page } from "../types.js";
import { rmapWalk } from "../vmscan.js";
import { objrmap } from "./objrmap.js";

const fileMap = (mm: number, addr: number, len: number, kind: MapKind, pgoff: number, prot: "r" | "rw" = "rw"): Cmd => ({
  op: "mmap",
  mm,
  addr,
  len,
  kind,
  prot,
  fixed: true,
  file: 0,
  pgoff,
});
const anon = (mm: number, addr: number, len: number): Cmd => ({ op: "mmap", mm, addr, len, kind: "anon", prot: "rw", fixed: true });
const write = (mm: number, addr: number, token: number): Cmd => ({ op: "write", mm, addr, token });
const read = (mm: number, addr: number): Cmd => ({ op: "read", mm, addr });
const fork = (mm: number, child: number): Cmd => ({ op: "fork", mm, child });

function session(cmds: Cmd[]): Session {
  const s = new Session(objrmap);
  for (const cmd of cmds) apply(s, cmd);
  return s;
}

function apply(s: Session, cmd: Cmd): void {
  const r = s.apply(cmd);
  expect(r.violation, `${cmdToString(cmd)}: ${r.violation?.message}`).toBeUndefined();
}

function pageAt(s: Session, mm: number, addr: number): Page {
  const pte = s.kernel.mms.get(mm)?.pt.get(addr);
  if (pte?.kind !== "present") throw new Error(`no page at mm${mm}:${addr}`);
  return s.kernel.pageAt(pte.pfn) as Page;
}

/** The walk's set, and what it cost (vmas visited on i_mmap, PTEs checked). */
function walk(s: Session, page: Page): { set: string[]; vmas: number; ptes: number } {
  const c = s.kernel.counters;
  const [vmas, ptes] = [c.vmasVisited, c.ptesChecked];
  const set = rmapWalk(s.kernel, page)
    .map((m) => `mm${m.vma.mm.id}:0x${m.addr.toString(16)}`)
    .sort();
  return { set, vmas: c.vmasVisited - vmas, ptes: c.ptesChecked - ptes };
}

describe("objrmap: known answers", () => {
  it("objrmap: a shared file page keeps no per-PTE state; the walk takes vma_address in each vma", () => {
    //   mm1  .AAa    shared file0@0, fork, both read 0x2: F = file0@1
    //   mm2  .BBb
    const s = session([fileMap(1, 1, 3, "shared-file", 0), fork(1, 2), read(1, 2), read(2, 2)]);
    const f = pageAt(s, 1, 2);
    expect(f.mapcount).toBe(2);
    expect(f.rmap).toBeUndefined();
    expect(f.mapping).toBe(s.kernel.files[0]);
    expect(s.kernel.design.slab.liveCount()).toBe(0);
    expect(walk(s, f)).toEqual({ set: ["mm1:0x2", "mm2:0x2"], vmas: 2, ptes: 2 });
  });

  it("objrmap: a private vma that COWed the page is a candidate the pfn check rejects", () => {
    //   mm1  .Aa     private file0@0, read 0x1 (F), fork, then mm1 writes 0x1: its own copy X
    //   mm2  .Bb     mm2 still maps F at 0x1
    const s = session([fileMap(1, 1, 2, "private-file", 0), read(1, 1), fork(1, 2), write(1, 1, 5)]);
    const f = pageAt(s, 2, 1);
    const x = pageAt(s, 1, 1);
    expect(x.anon).toBe(true);
    expect(f.mapcount).toBe(1);
    // mm1's vma comes first on i_mmap: vma_address gives 0x1, whose PTE maps X, not F.
    expect(walk(s, f)).toEqual({ set: ["mm2:0x1"], vmas: 2, ptes: 2 });
    // The COW copy is anonymous: it is on a pte_chain (PG_direct), not found through i_mmap.
    expect(PteChainStore.rmapOf(x)).toEqual({ direct: { mm: s.kernel.mms.get(1), addr: 1 } });
    expect(walk(s, x)).toEqual({ set: ["mm1:0x1"], vmas: 0, ptes: 1 });
  });

  it("objrmap: the walk stops once it has found mapcount PTEs", () => {
    //   mm1  .AA..BB...CC    three private read-only windows on file0@0; only A, then B, read F
    const s = session([
      fileMap(1, 1, 2, "private-file", 0, "r"),
      fileMap(1, 5, 2, "private-file", 0, "r"),
      fileMap(1, 10, 2, "private-file", 0, "r"),
      read(1, 1),
    ]);
    const f = pageAt(s, 1, 1);
    expect(walk(s, f)).toEqual({ set: ["mm1:0x1"], vmas: 1, ptes: 1 });
    apply(s, read(1, 5));
    expect(walk(s, f)).toEqual({ set: ["mm1:0x1", "mm1:0x5"], vmas: 2, ptes: 2 });
    apply(s, read(1, 10));
    expect(walk(s, f)).toEqual({ set: ["mm1:0x1", "mm1:0x5", "mm1:0xa"], vmas: 3, ptes: 3 });
  });

  it("objrmap: a list walk visits vmas that cannot map the page (the cost the prio tree removed)", () => {
    //   mm1  .AAAA..BB   A private file0@0 (F = file0@0 at 0x1), B file0@4: B cannot map F,
    //                    but it was mapped first, so it is on the list before A
    const s = session([fileMap(1, 7, 2, "private-file", 4, "r"), fileMap(1, 1, 4, "private-file", 0, "r"), read(1, 1)]);
    const f = pageAt(s, 1, 1);
    expect(walk(s, f)).toEqual({ set: ["mm1:0x1"], vmas: 2, ptes: 1 });
  });

  it("objrmap: mremap of a file vma needs no rmap work; vma_address finds the PTE at its new place", () => {
    //   mm1  .AA........  →  ..........AA    shared file0@0 moved to 0xa, pgoff kept
    const s = session([fileMap(1, 1, 2, "shared-file", 0), read(1, 1)]);
    const f = pageAt(s, 1, 1);
    apply(s, { op: "mremap", mm: 1, addr: 1, len: 2, newLen: 2, maymove: true, fixed: true, newAddr: 10 });
    expect(f.rmap).toBeUndefined();
    expect(walk(s, f).set).toEqual(["mm1:0xa"]);
  });

  it("objrmap: anonymous pages keep pte_chains: fork allocates a block, file PTEs cost nothing", () => {
    //   mm1  .A.BB   A anon (X at 0x1), B private file0@0 (F read at 0x3)
    //   mm2  .A.Bb   fork copies both PTEs: X is chained (1 block); F needs nothing
    const s = session([anon(1, 1, 1), write(1, 1, 7), fileMap(1, 3, 2, "private-file", 0), read(1, 3)]);
    const allocs = s.kernel.counters.objectsAllocatedAtFork;
    apply(s, fork(1, 2));
    expect(s.kernel.counters.objectsAllocatedAtFork - allocs).toBe(1);
    expect(s.kernel.design.slab.liveCount(PTE_CHAIN)).toBe(1);
    expect(walk(s, pageAt(s, 1, 1)).set).toEqual(["mm1:0x1", "mm2:0x1"]);
    expect(walk(s, pageAt(s, 1, 3)).set).toEqual(["mm1:0x3", "mm2:0x3"]);
  });

  it("objrmap: a VM_LOCKED vma makes try_to_unmap fail, but the walk still reports its PTE", () => {
    //   mm1  .Aa   shared file0@0, read 0x1, mlock: reclaim of F fails
    const s = session([fileMap(1, 1, 2, "shared-file", 0), read(1, 1), { op: "mlock", mm: 1, addr: 1, len: 2 }]);
    const f = pageAt(s, 1, 1);
    const r = s.apply({ op: "swapout", mm: 1, addr: 1 });
    expect(r.violation).toBeUndefined();
    expect(r.record.kernel).toEqual({ kind: "internal", what: "failed" });
    expect(walk(s, f).set).toEqual(["mm1:0x1"]);
  });
});

describe("objrmap: the property", () => {
  for (const seed of [21, 22]) {
    it(`objrmap: 300 random sequences hold (seed ${seed})`, () => {
      const r = checkDesign({ design: objrmap, seed, runs: 300 });
      const cx = r.counterexample;
      expect(r.ok, cx && `${cx.failure.message}\n${cx.commands.map(cmdToString).join("\n")}`).toBe(true);
    });
  }
});

describe("objrmap: planted bugs are caught", () => {
  it("objrmap/no-pfn-check: a candidate that does not map the page is counted, a real one missed (I1)", () => {
    // Why this test? vma_address is only a candidate: a vma that has not faulted the page (or
    // COWed it) has some other PTE there. Counted against mapcount, it ends the walk early.
    const r = checkDesign({ design: objrmap, mutant: "no-pfn-check", seed: 1, runs: 2000 });
    expect(r.ok).toBe(false);
    const cx = r.counterexample;
    expect(cx?.failure.invariant).toBe("I1");
    // The shrunk sequence: a file mapping shared by fork, only the child faults the page; the
    // walk counts the parent's empty candidate and stops before the PTE that maps the page.
    expect(cx?.commands.map(cmdToString)).toEqual([
      "mmap(mm1, 0x6+3, r, PRIVATE|FIXED, file0@4)",
      "fork(mm1) → mm4",
      "read(mm4, 0x8)",
    ]);
    expect(cx?.failure.page?.walk).toEqual(["mm1:0x8"]);
    expect(cx?.failure.page?.ref).toEqual(["mm4:0x8"]);
  });

  it("objrmap/private-list-forgotten: a private mapping of a file page is missed (I1, 2 commands)", () => {
    const r = checkDesign({ design: objrmap, mutant: "private-list-forgotten", seed: 1, runs: 2000 });
    expect(r.ok).toBe(false);
    expect(r.counterexample?.failure.invariant).toBe("I1");
    expect(r.counterexample?.commands.length).toBe(2);
  });
});
