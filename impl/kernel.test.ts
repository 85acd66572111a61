/*
 * Known-answer scenarios of the simulated kernel, run with the `scan` design (whose walk is
 * the brute-force one, so these test the kernel, not a design). Each draws the address
 * spaces the way properties/picture.ts does: letters are vmas, uppercase = page present,
 * lowercase = not faulted, ~ = swap entry.
 */
import { describe, expect, it } from "vitest";
import type { Cmd } from "../model/commands.js";
import { drawLayout } from "../properties/picture.js";
import { Session } from "../properties/interpreter.js";
import { scan } from "./designs/scan.js";
import { rmapWalk } from "./vmscan.js";
import type { Page } from "./types.js";

function session(cmds: Cmd[]): Session {
  const s = new Session(scan);
  for (const cmd of cmds) {
    const r = s.apply(cmd);
    expect(r.violation, `${JSON.stringify(cmd)}: ${r.violation?.message}`).toBeUndefined();
  }
  return s;
}

function pageAt(s: Session, mm: number, addr: number): Page {
  const pte = s.kernel.mms.get(mm)?.pt.get(addr);
  if (pte?.kind !== "present") throw new Error(`no page at mm${mm}:${addr}`);
  return s.kernel.pageAt(pte.pfn) as Page;
}

/** The picture rows without the ruler. */
const rows = (s: Session) => drawLayout(s.kernel).slice(2);

const anon = (mm: number, addr: number, len: number): Cmd => ({ op: "mmap", mm, addr, len, kind: "anon", prot: "rw", fixed: true });
const write = (mm: number, addr: number, token: number): Cmd => ({ op: "write", mm, addr, token });
const read = (mm: number, addr: number): Cmd => ({ op: "read", mm, addr });

describe("kernel (scan): known answers", () => {
  it("scan: fork then COW in the child gives the child its own page", () => {
    //   mm1  .AA     write 0x1: page X
    //   mm2  .Ba     fork: X mapped by both; the child's write copies X
    const s = session([anon(1, 1, 2), write(1, 1, 7), { op: "fork", mm: 1, child: 2 }]);
    const x = pageAt(s, 1, 1);
    expect(x.mapcount).toBe(2);
    expect(pageAt(s, 2, 1)).toBe(x);
    s.apply(write(2, 1, 9));
    const y = pageAt(s, 2, 1);
    expect(y).not.toBe(x);
    expect([x.mapcount, y.mapcount]).toEqual([1, 1]);
    expect(rows(s)).toEqual([`mm1   .Aa${".".repeat(29)}`, `mm2   .Bb${".".repeat(29)}`]);
    expect(s.apply(read(1, 1)).record.kernel).toEqual({ kind: "value", value: 7 });
    expect(s.apply(read(2, 1)).record.kernel).toEqual({ kind: "value", value: 9 });
  });

  it("scan: mremap move of a partly written anon range carries contents and leaves the old range unmapped", () => {
    //   before: mm1  .Aaa......      after: mm1  ..........Aaa   (a new vma struct)
    const s = session([anon(1, 1, 3), write(1, 1, 5)]);
    const r = s.apply({ op: "mremap", mm: 1, addr: 1, len: 3, newLen: 3, maymove: true, fixed: true, newAddr: 10 });
    expect(r.violation).toBeUndefined();
    expect(r.record.kernel).toEqual({ kind: "addr", addr: 10 });
    expect(rows(s)[0]).toBe(`mm1   ${".".repeat(10)}Aaa${".".repeat(19)}`);
    expect(s.apply(read(1, 10)).record.kernel).toEqual({ kind: "value", value: 5 });
    expect(s.apply(read(1, 11)).record.kernel).toEqual({ kind: "value", value: 0 });
    expect(s.apply(read(1, 1)).record.kernel).toEqual({ kind: "signal", signal: "SIGSEGV" });
    // copy_vma keeps a moved anon vma's pgoff only if it has an anon_vma; scan has none, so
    // the vma is re-based at its new address (anon_vma designs keep 1: see their tests).
    expect(s.kernel.mms.get(1)?.vmas[0]?.vmPgoff).toBe(10);
  });

  it("scan: truncate removes a private COW copy past the new end (SIGBUS), even_cows", () => {
    //   mm1  .AAAA   private file0@0, COW copy at 0x3 (pgoff 2)
    const s = session([
      { op: "mmap", mm: 1, addr: 1, len: 4, kind: "private-file", prot: "rw", fixed: true, file: 0, pgoff: 0 },
      write(1, 3, 42),
      read(1, 1),
    ]);
    expect(pageAt(s, 1, 3).anon).toBe(true);
    const r = s.apply({ op: "truncate", file: 0, size: 2 });
    expect(r.violation).toBeUndefined();
    expect(s.kernel.mms.get(1)?.pt.has(3)).toBe(false);
    expect(s.apply(read(1, 3)).record.kernel).toEqual({ kind: "signal", signal: "SIGBUS" });
    expect(s.apply(read(1, 2)).record.kernel).toEqual({ kind: "value", value: -1001 });
  });

  it("scan: swap-out and swap-in of a page shared by two mms preserve its contents", () => {
    const s = session([anon(1, 1, 1), write(1, 1, 11), { op: "fork", mm: 1, child: 2 }]);
    const xPfn = pageAt(s, 1, 1).pfn;
    expect(s.apply({ op: "swapout", mm: 1, addr: 1 }).record.kernel).toEqual({ kind: "internal", what: "swapped out" });
    //   mm1  .~     both PTEs are swap entries to one slot
    //   mm2  .~
    expect(rows(s).map((r) => r.slice(0, 8))).toEqual(["mm1   .~", "mm2   .~"]);
    expect(s.kernel.swap.size).toBe(1);
    expect(s.apply(read(2, 1)).record.kernel).toEqual({ kind: "value", value: 11 });
    // mm2's swap-in left the page in the swap cache; mm1's fault finds it there: one page again.
    s.apply(read(1, 1));
    expect(pageAt(s, 1, 1)).toBe(pageAt(s, 2, 1));
    expect(pageAt(s, 1, 1).mapcount).toBe(2);
    expect(s.kernel.swap.size).toBe(0);
    expect(xPfn).toBeGreaterThanOrEqual(0);
  });

  it("scan: migration moves every PTE of a page to the new frame", () => {
    const s = session([anon(1, 1, 1), write(1, 1, 3), { op: "fork", mm: 1, child: 2 }, { op: "fork", mm: 2, child: 3 }]);
    const x = pageAt(s, 1, 1);
    const xPfn = x.pfn;
    expect(rmapWalk(s.kernel, x).map((m) => m.vma.mm.id)).toEqual([1, 2, 3]);
    s.apply({ op: "migrate", mm: 2, addr: 1 });
    const y = pageAt(s, 1, 1);
    expect(y.pfn).not.toBe(xPfn);
    expect([pageAt(s, 2, 1), pageAt(s, 3, 1)]).toEqual([y, y]);
    expect(y.mapcount).toBe(3);
    expect(s.checkNow()).toBeUndefined();
  });

  it("scan: mlock makes swap-out fail, munlock lets it succeed", () => {
    const s = session([anon(1, 1, 2), write(1, 1, 1), { op: "mlock", mm: 1, addr: 1, len: 1 }]);
    //   mm1  .AB   A locked (split off by mlock), B not
    expect(s.kernel.mms.get(1)?.vmas.length).toBe(2);
    expect(s.apply({ op: "swapout", mm: 1, addr: 1 }).record.kernel).toEqual({ kind: "internal", what: "failed" });
    expect(s.kernel.counters.unmapFailures).toBe(1);
    s.apply({ op: "munlock", mm: 1, addr: 1, len: 1 });
    expect(s.kernel.mms.get(1)?.vmas.length).toBe(1); // merged back
    expect(s.apply({ op: "swapout", mm: 1, addr: 1 }).record.kernel).toEqual({ kind: "internal", what: "swapped out" });
  });

  it("scan: reclaim under pressure swaps out and writes back, and contents survive", () => {
    const s = session([anon(1, 1, 14), { op: "mmap", mm: 1, addr: 16, len: 4, kind: "shared-file", prot: "rw", fixed: true, file: 1, pgoff: 0 }]);
    for (let i = 0; i < 14; i++) s.apply(write(1, 1 + i, 100 + i));
    s.apply(write(1, 16, 77));
    // 12 frames for 15 pages: the faults themselves reclaimed.
    expect(s.kernel.counters.pagesReclaimed).toBeGreaterThan(0);
    expect(s.kernel.counters.emergencyFrames).toBe(0);
    for (let i = 0; i < 14; i++) expect(s.apply(read(1, 1 + i)).record.kernel).toEqual({ kind: "value", value: 100 + i });
    expect(s.apply(read(1, 16)).record.kernel).toEqual({ kind: "value", value: 77 });
    expect(s.checkNow()).toBeUndefined();
    expect(s.exitAll().violation).toBeUndefined();
  });
});
