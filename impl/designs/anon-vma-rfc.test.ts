/*
 * Known answers for anon-vma-rfc (Andrea Arcangeli's RFC, 10 March 2004), then the proof that
 * the property finds its flaw (primer D1). Pictures: letters are vmas (uppercase = page
 * present, lowercase = not faulted), one column per page from 0x1; "→A" names the vma struct
 * a PageDirect page points to.
 */
import { describe, expect, it } from "vitest";
import { type Cmd, cmdToString } from "../../model/commands.js";
import { Session, runSequence } from "../../properties/interpreter.js";
import { checkDesign } from "../../properties/property.js";
import type { Page, Vma } from "../types.js";
import { rmapWalk } from "../vmscan.js";
import { anonVmaRfc } from "./anon-vma-rfc.js";

const anon = (mm: number, addr: number, len: number): Cmd => ({ op: "mmap", mm, addr, len, kind: "anon", prot: "rw", fixed: true });
const write = (mm: number, addr: number, token: number): Cmd => ({ op: "write", mm, addr, token });
const fork = (mm: number, child: number): Cmd => ({ op: "fork", mm, child });
const mprotect = (mm: number, addr: number, len: number, prot: "r" | "rw"): Cmd => ({ op: "mprotect", mm, addr, len, prot });

function session(cmds: Cmd[]): Session {
  const s = new Session(anonVmaRfc);
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

/** PageDirect: the page's mapping is a vma (page.rmap holds the PG_direct bit). */
const isDirect = (page: Page): boolean => page.rmap === true;

describe("anon-vma-rfc (2004-03 RFC): known answers", () => {
  it("anon-vma-rfc: a fault allocates nothing; the page points directly to its vma", () => {
    //   mm1  Xa     X →A (PageDirect), no anon_vma anywhere
    const s = session([anon(1, 1, 2), write(1, 1, 5)]);
    const x = pageAt(s, 1, 1);
    expect(isDirect(x)).toBe(true);
    expect(x.mapping).toBe(vmaOf(s, 1, 1));
    expect(x.index).toBe(1);
    expect(s.kernel.design.slab.liveCount("anon_vma")).toBe(0);
    expect(s.kernel.counters.objectsAllocatedAtFault).toBe(0);
    const before = s.kernel.counters.vmasVisited;
    expect(walkKeys(s, x)).toEqual(["mm1:1"]);
    expect(s.kernel.counters.vmasVisited - before).toBe(1);
  });

  it("anon-vma-rfc: fork creates the anon_vma and switches the shared page from direct to it, for good", () => {
    //   mm1  Xa     fork: anon_vma #1 = {A, B}; X now on #1
    //   mm2  Xa
    //   mm1  XY     a new fault in the forked A: Y is direct again (→A)
    //   mm3  XY     fork again: #1 gains C, Y switches to #1, no new anon_vma
    const s = session([anon(1, 1, 2), write(1, 1, 5), fork(1, 2)]);
    const x = pageAt(s, 1, 1);
    const a = vmaOf(s, 1, 1);
    expect(isDirect(x)).toBe(false);
    expect(x.mapping).toBe(a.anonVma);
    expect(vmaOf(s, 2, 1).anonVma).toBe(a.anonVma);
    expect(s.kernel.counters.objectsAllocatedAtFork).toBe(1);
    expect(s.kernel.design.slab.liveCount("anon_vma")).toBe(1);
    expect(walkKeys(s, x)).toEqual(["mm1:1", "mm2:1"]);
    // 12 bytes in each of 2 vmas + one 12-byte anon_vma (i386).
    expect(s.kernel.design.slab.memory()).toEqual({ ilp32: 36, lp64: 72 });

    s.apply(write(1, 2, 6));
    const y = pageAt(s, 1, 2);
    expect(isDirect(y)).toBe(true);
    expect(y.mapping).toBe(a);
    s.apply(fork(1, 3));
    expect(isDirect(y)).toBe(false);
    expect(y.mapping).toBe(a.anonVma);
    expect(s.kernel.counters.objectsAllocatedAtFork).toBe(1);
    expect(walkKeys(s, y)).toEqual(["mm1:2", "mm3:2"]);
    expect(walkKeys(s, x)).toEqual(["mm1:1", "mm2:1", "mm3:1"]);

    // A page never returns to direct: after the children exit, X still goes through #1.
    s.apply({ op: "exit", mm: 2 });
    s.apply({ op: "exit", mm: 3 });
    expect(x.mapcount).toBe(1);
    expect(isDirect(x)).toBe(false);
    expect(walkKeys(s, x)).toEqual(["mm1:1"]);
    s.apply({ op: "exit", mm: 1 });
    expect(s.kernel.design.slab.liveCount()).toBe(0);
  });

  it("anon-vma-rfc: a split moves the PTE into a struct the direct page does not name (D1: I1)", () => {
    //   mm1  Xa      X at 0x1 →A = [1,3)
    //   mm1  Ba      mprotect [2,3) r: __split_vma(new_below) gives [1,2) to a new struct B,
    //                A keeps [2,3); X is mapped through B but still →A, where it is out of range
    const s = session([anon(1, 1, 2), write(1, 1, 5)]);
    const r = s.apply(mprotect(1, 2, 1, "r"));
    expect(r.violation?.invariant).toBe("I1");
    expect(r.violation?.page?.ref).toEqual(["mm1:0x1"]);
    expect(r.violation?.page?.walk).toEqual([]);
  });

  it("anon-vma-rfc: a merge frees the struct a direct page names (D1: I4)", () => {
    //   mm1  XA      X at 0x1 →A = [1,3)
    //   mm1  Xb      mprotect [1,2) r: A keeps [1,2), B = [2,3) is new; X →A still right
    //   mm1  BB      mprotect [1,2) rw: B expands down over A, A is freed; X →freed A
    const s = session([anon(1, 1, 2), write(1, 1, 5), mprotect(1, 1, 1, "r")]);
    expect(walkKeys(s, pageAt(s, 1, 1))).toEqual(["mm1:1"]);
    const r = s.apply(mprotect(1, 1, 1, "rw"));
    expect(r.violation?.invariant).toBe("I4");
    expect(r.violation?.message).toMatch(/use-after-free: read of \.vmStart of a vm_area_struct freed at vma_merge_existing_range/);
  });
});

describe("anon-vma-rfc (2004-03 RFC): the property finds the PageDirect flaw", () => {
  // Why this test? The RFC is simulated as designed, flaw included (primer D1). A harness that
  // passed it would be blind to the very bug that made Hugh write "a page cannot point directly
  // to its vma(s)": the random property must fail it, and shrink the failure to a few commands.
  const shrunk = [
    "mmap(mm1, 0x1c+4, rw, PRIVATE|FIXED, file1@1)",
    "write(mm1, 0x1c, 1)",
    "munmap(mm1, 0x1d+2)",
  ];

  it("anon-vma-rfc: checkDesign (seed 7) fails with a use-after-free, shrunk to 3 commands", () => {
    const r = checkDesign({ design: anonVmaRfc, seed: 7, runs: 2000 });
    expect(r.ok).toBe(false);
    const cx = r.counterexample;
    expect(cx?.failure.invariant).toBe("I4");
    expect(cx?.commands.map(cmdToString)).toEqual(shrunk);
    expect(cx?.runsToFailure).toBeLessThanOrEqual(10);
  });

  it("anon-vma-rfc: the shrunk sequence replays to I4: a munmap hole frees the vma X names", () => {
    //   mm1  XAAA    COW of the private file page at 0x1c: anonymous X →A = [0x1c,0x20)
    //   mm1  B..c    munmap [0x1d,0x1f): __split_vma(new_below) gives [0x1c,0x1d) to a new B,
    //                the split at 0x1f gives [0x1f,0x20) to a new C, A = the hole is freed:
    //                X is mapped through B but still →freed A
    const cmds: Cmd[] = [
      { op: "mmap", mm: 1, addr: 0x1c, len: 4, kind: "private-file", prot: "rw", fixed: true, file: 1, pgoff: 1 },
      write(1, 0x1c, 1),
      { op: "munmap", mm: 1, addr: 0x1d, len: 2 },
    ];
    expect(cmds.map(cmdToString)).toEqual(shrunk);
    const r = runSequence(anonVmaRfc, cmds);
    expect(r.failure?.invariant).toBe("I4");
    expect(r.failure?.step).toBe(2);
    expect(r.failure?.message).toMatch(/vm_area_struct freed at munmap/);
  });
});
