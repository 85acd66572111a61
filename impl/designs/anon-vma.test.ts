/*
 * Known answers for anon-vma (2.6.7), then the property and its mutants. Pictures: letters
 * are vmas (uppercase = page present, lowercase = not faulted), one column per page from 0x1.
 */
import { describe, expect, it } from "vitest";
import { type Cmd, cmdToString } from "../../model/commands.js";
import { Session } from "../../properties/interpreter.js";
import { checkDesign } from "../../properties/property.js";
import type { AnonAdd } from "../design.js";
import type { Page, Vma } from "../types.js";
import { rmapWalk } from "../vmscan.js";
import { anonVma } from "./anon-vma.js";

const anon = (mm: number, addr: number, len: number, prot: "r" | "rw" = "rw"): Cmd => ({ op: "mmap", mm, addr, len, kind: "anon", prot, fixed: true });
const write = (mm: number, addr: number, token: number): Cmd => ({ op: "write", mm, addr, token });
const read = (mm: number, addr: number): Cmd => ({ op: "read", mm, addr });
const fork = (mm: number, child: number): Cmd => ({ op: "fork", mm, child });

function session(cmds: Cmd[]): Session {
  const s = new Session(anonVma);
  for (const cmd of cmds) {
    const r = s.apply(cmd);
    expect(r.violation, `${cmdToString(cmd)}: ${r.violation?.message}`).toBeUndefined();
  }
  return s;
}

function pageAt(s: Session, mm: number, addr: number): Page {
  const pte = s.kernel.mms.get(mm)?.pt.get(addr);
  if (pte?.kind !== "present") throw new Error(`no page at mm${mm}:${addr}`);
  return s.kernel.pageAt(pte.pfn) as Page;
}

const vmaOf = (s: Session, mm: number, addr: number): Vma => {
  const vma = s.kernel.mms.get(mm)?.vmas.find((v) => v.vmStart <= addr && addr < v.vmEnd);
  if (!vma) throw new Error(`no vma at mm${mm}:${addr}`);
  return vma;
};

const walkKeys = (s: Session, page: Page): string[] =>
  rmapWalk(s.kernel, page)
    .map((m) => `mm${m.vma.mm.id}:${m.addr}`)
    .sort();

/** The anon_vma's list, as "mmN:vmStart" (newest first, as list_add leaves it). */
const headOf = (vma: Vma): string[] => (vma.anonVma as { head: Vma[] }).head.map((v) => `mm${v.mm.id}:${v.vmStart}`);

describe("anon-vma (2.6.7): known answers", () => {
  it("anon-vma: anon_vma_prepare reuses an adjacent mergeable neighbour's anon_vma, allocates for a distant one", () => {
    //   mm1  NN.         N [1,3) written, then mprotect r: N keeps anon_vma #1
    //   mm1  NNV         V [3,5) rw, pgoff 3 = 1 + 2: the flags differ only in VM_WRITE, so
    //   mm1  NNVv        V's first fault takes #1 (find_mergeable_anon_vma), no allocation
    //   mm1  NNVv.W      W [6,8): not adjacent, so its first fault allocates #2
    const s = session([anon(1, 1, 2), write(1, 1, 7), { op: "mprotect", mm: 1, addr: 1, len: 2, prot: "r" }, anon(1, 3, 2)]);
    expect(s.kernel.mms.get(1)?.vmas.length).toBe(2);
    expect(s.kernel.counters.objectsAllocatedAtFault).toBe(1);
    s.apply(write(1, 3, 8));
    const n = vmaOf(s, 1, 1);
    const v = vmaOf(s, 1, 3);
    expect(v.anonVma).toBe(n.anonVma);
    expect(headOf(n)).toEqual(["mm1:3", "mm1:1"]);
    expect(s.kernel.counters.objectsAllocatedAtFault).toBe(1);
    expect(s.kernel.design.slab.liveCount("anon_vma")).toBe(1);
    s.apply(anon(1, 6, 2));
    s.apply(write(1, 6, 9));
    expect(vmaOf(s, 1, 6).anonVma).not.toBe(n.anonVma);
    expect(s.kernel.counters.objectsAllocatedAtFault).toBe(2);
    expect(s.kernel.design.slab.liveCount("anon_vma")).toBe(2);
    // Sharing #1 is what lets N and V merge again when V is made read-only too.
    expect(s.apply({ op: "mprotect", mm: 1, addr: 3, len: 2, prot: "r" }).violation).toBeUndefined();
    expect(vmaOf(s, 1, 1)).toBe(vmaOf(s, 1, 4));
    expect(walkKeys(s, pageAt(s, 1, 3))).toEqual(["mm1:3"]);
  });

  it("anon-vma: one anon_vma for a whole fork family; a child's COW copy still walks the family", () => {
    //   mm1  Xa      X written at 0x1, anon_vma #1 allocated at that fault
    //   mm2  Xa      fork mm1 → mm2, mm1 → mm3, mm2 → mm4: every vma joins #1, the
    //   mm3  Xa      copied PTEs only raise X's mapcount (no allocation at fork)
    //   mm4  Xa
    //   then mm2 writes 0x1: its copy Y is also tagged with #1
    const s = session([anon(1, 1, 2), write(1, 1, 5), fork(1, 2), fork(1, 3), fork(2, 4)]);
    const x = pageAt(s, 1, 1);
    const av = vmaOf(s, 1, 1).anonVma;
    for (const mm of [2, 3, 4]) expect(vmaOf(s, mm, 1).anonVma).toBe(av);
    expect(x.mapping).toBe(av);
    expect(x.mapcount).toBe(4);
    expect(headOf(vmaOf(s, 1, 1))).toEqual(["mm4:1", "mm3:1", "mm2:1", "mm1:1"]);
    expect(s.kernel.design.slab.liveCount("anon_vma")).toBe(1);
    expect(s.kernel.counters.objectsAllocatedAtFork).toBe(0);
    expect(walkKeys(s, x)).toEqual(["mm1:1", "mm2:1", "mm3:1", "mm4:1"]);
    // The seed-003 cost: 12 bytes in each of the 4 vmas + one 12-byte anon_vma (i386).
    expect(s.kernel.design.slab.memory()).toEqual({ ilp32: 4 * 12 + 12, lp64: 4 * 24 + 24 });

    s.apply(write(2, 1, 6));
    const y = pageAt(s, 2, 1);
    expect(y).not.toBe(x);
    expect(y.mapping).toBe(av);
    const before = s.kernel.counters.vmasVisited;
    expect(walkKeys(s, y)).toEqual(["mm2:1"]);
    // The walk visits mm4's and mm3's vmas before it finds Y in mm2 (the AIM7 weakness).
    expect(s.kernel.counters.vmasVisited - before).toBe(3);
    expect(walkKeys(s, x)).toEqual(["mm1:1", "mm3:1", "mm4:1"]);

    // The GC: the anon_vma lives while any vma is queued on it.
    for (const mm of [1, 2, 3]) s.apply({ op: "exit", mm });
    expect(s.kernel.design.slab.liveCount("anon_vma")).toBe(1);
    expect(pageAt(s, 4, 1).mapping).toBe(av);
    s.apply({ op: "exit", mm: 4 });
    expect(s.kernel.design.slab.liveCount()).toBe(0);
  });

  it("anon-vma: mremap keeps vm_pgoff, touches no page, and the walk still finds the moved PTE", () => {
    //   before: mm1  XY..........      mm2  XY      (fork: both share X and Y)
    //   after:  mm1  ..........XY      mm2  XY      mm1's vma moved to 0xb, pgoff still 1
    const s = session([anon(1, 1, 2), write(1, 1, 3), write(1, 2, 4), fork(1, 2)]);
    const x = pageAt(s, 1, 1);
    const av = x.mapping;
    const r = s.apply({ op: "mremap", mm: 1, addr: 1, len: 2, newLen: 2, maymove: true, fixed: true, newAddr: 11 });
    expect(r.violation).toBeUndefined();
    const moved = vmaOf(s, 1, 11);
    expect([moved.vmStart, moved.vmPgoff]).toEqual([11, 1]);
    expect(moved.anonVma).toBe(av);
    expect(pageAt(s, 1, 11)).toBe(x);
    expect([x.mapping, x.index]).toEqual([av, 1]);
    expect(walkKeys(s, x)).toEqual(["mm1:11", "mm2:1"]);
    expect(headOf(moved)).toEqual(["mm1:11", "mm2:1"]);
    // Swap X out through the walk and back in at its new address in mm1: contents survive.
    s.apply({ op: "swapout", mm: 1, addr: 11 });
    expect(s.kernel.mms.get(1)?.pt.get(11)?.kind).toBe("swap");
    expect(s.kernel.mms.get(2)?.pt.get(1)?.kind).toBe("swap");
    expect(s.apply(read(1, 11)).record.kernel).toEqual({ kind: "value", value: 3 });
    expect(s.apply(read(2, 1)).record.kernel).toEqual({ kind: "value", value: 3 });
    expect(s.checkNow()).toBeUndefined();
  });

  it("anon-vma: a swap-cache page shared after fork is set by its first mapping; a later one must agree", () => {
    //   mm1  ~a      X written, fork, swapped out: both PTEs are swap entries to one slot
    //   mm2  Xa      mm2 faults it in first: X' (swap cache) gets anon_vma #1, index 1
    //   mm1  Xa      mm1 then maps the same X': page_add_anon_rmap's BUG_ONs hold
    const s = session([anon(1, 1, 2), write(1, 1, 5), fork(1, 2), { op: "swapout", mm: 1, addr: 1 }, read(2, 1)]);
    const x = pageAt(s, 2, 1);
    const av = vmaOf(s, 1, 1).anonVma;
    expect([x.mapping, x.index, x.mapcount]).toEqual([av, 1, 1]);
    expect(s.apply(read(1, 1)).record.kernel).toEqual({ kind: "value", value: 5 });
    expect(pageAt(s, 1, 1)).toBe(x);
    expect(walkKeys(s, x)).toEqual(["mm1:1", "mm2:1"]);
    // Mapping X' from a vma of another anon_vma would be the 2.6.7 BUG_ON: asserted as I6.
    s.apply(anon(1, 10, 2));
    s.apply(write(1, 10, 6));
    const other: AnonAdd = "swapin-shared";
    expect(() => s.kernel.design.pageAddAnon(x, vmaOf(s, 1, 10), 10, other)).toThrow(/^I6: /);
  });
});

describe("anon-vma (2.6.7): the property", () => {
  for (const seed of [1, 2]) {
    it(`anon-vma: 300 random sequences hold (seed ${seed})`, () => {
      const r = checkDesign({ design: anonVma, seed, runs: 300 });
      const cx = r.counterexample;
      expect(r.ok, cx && `${cx.failure.message}\n${cx.commands.map(cmdToString).join("\n")}`).toBe(true);
    });
  }
});

describe("anon-vma (2.6.7): planted bugs are caught", () => {
  it("anon-vma/no-join-at-fork: the child missing from the anon_vma is an I1 at the first fork", () => {
    const r = checkDesign({ design: anonVma, mutant: "no-join-at-fork", seed: 5, runs: 2000 });
    expect(r.ok).toBe(false);
    expect(r.counterexample?.failure.invariant).toBe("I1");
    expect(r.counterexample?.commands.map(cmdToString)).toEqual([
      "mmap(mm1, 0x1+4, rw, PRIVATE|ANON|FIXED)",
      "write(mm1, 0x2, 1)",
      "fork(mm1) → mm2",
    ]);
    expect(r.counterexample?.failure.page?.walk).toEqual(["mm1:0x2"]);
  });

  it("anon-vma/free-anon-vma-early: freeing with one vma still queued is an I4", () => {
    // munmap of [1,2) (by MAP_FIXED) splits [1,4): the upper piece joins anon_vma #1, the
    // lower leaves it with one vma queued, and the mutant frees it under that vma.
    const r = checkDesign({ design: anonVma, mutant: "free-anon-vma-early", seed: 4, runs: 2000 });
    expect(r.ok).toBe(false);
    expect(r.counterexample?.failure.invariant).toBe("I4");
    expect(r.counterexample?.commands.map(cmdToString)).toEqual([
      "mmap(mm1, 0x1+3, rw, PRIVATE|ANON|FIXED)",
      "write(mm1, 0x2, 2)",
      "mmap(mm1, 0x1+2, rw, PRIVATE|ANON|FIXED)",
    ]);
  });

  it("anon-vma/index-is-address: an anon page indexed by address is lost in a private file vma (I1)", () => {
    // A COW copy in a private file vma: vm_pgoff is a file offset, so vma_address(index = addr)
    // points elsewhere (mremap's foreign anon pgoff breaks it the same way).
    const r = checkDesign({ design: anonVma, mutant: "index-is-address", seed: 4, runs: 2000 });
    expect(r.ok).toBe(false);
    expect(r.counterexample?.failure.invariant).toBe("I1");
    expect(r.counterexample?.commands.map(cmdToString)).toEqual(["mmap(mm1, 0x1+3, rw, PRIVATE|FIXED, file0@0)", "write(mm1, 0x2, 1)"]);
    expect(r.counterexample?.failure.page?.walk).toEqual([]);
  });
});
