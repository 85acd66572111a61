/*
 * pte-chain: known-answer scenarios, the property, and the planted bugs.
 *
 * Pictures: one row per mm, letters are vmas (uppercase: a present PTE, lowercase: none);
 * X, Y name physical pages. "rmap" shows page->pte: direct(mm:addr) or chain[blocks].
 */
import { describe, expect, it } from "vitest";
import { type Cmd, cmdToString } from "../../model/commands.js";
import { Session, runSequence } from "../../properties/interpreter.js";
import { checkDesign } from "../../properties/property.js";
import { PTE_CHAIN, PteChainStore, pteChainGeometry } from "../structures/pte-chain.js";
import type { Page } from "../types.js";
import { rmapWalk } from "../vmscan.js";
import { type PteChainRmap, makePteChain, pteChain } from "./pte-chain.js";

const anon = (mm: number, addr: number, len: number): Cmd => ({ op: "mmap", mm, addr, len, kind: "anon", prot: "rw", fixed: true });
const sharedFile = (mm: number, addr: number, len: number, file: number, pgoff: number): Cmd => ({
  op: "mmap",
  mm,
  addr,
  len,
  kind: "shared-file",
  prot: "rw",
  fixed: true,
  file,
  pgoff,
});
const write = (mm: number, addr: number, token: number): Cmd => ({ op: "write", mm, addr, token });
const read = (mm: number, addr: number): Cmd => ({ op: "read", mm, addr });
const fork = (mm: number, child: number): Cmd => ({ op: "fork", mm, child });
const exit = (mm: number): Cmd => ({ op: "exit", mm });

function session(cmds: Cmd[], design = pteChain): Session {
  const s = new Session(design);
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

const walkOf = (s: Session, page: Page): string[] =>
  rmapWalk(s.kernel, page)
    .map((m) => `mm${m.vma.mm.id}:0x${m.addr.toString(16)}`)
    .sort();

const design = (s: Session) => s.kernel.design as PteChainRmap;

/** page->pte as a short string: direct(mm1:0x1), chain[2 blocks, 3 ptes] or none. */
function rmapOf(s: Session, page: Page): string {
  const r = PteChainStore.rmapOf(page);
  if (r === undefined) return "none";
  if ("direct" in r) return `direct(mm${r.direct.mm.id}:0x${r.direct.addr.toString(16)})`;
  const chains = design(s).chains;
  return `chain[${chains.blocks(page)} blocks, ${chains.entries(page)} ptes]`;
}

describe("pte-chain: known answers", () => {
  it("pte-chain: the default block is one 64-byte i386 line holding NRPTE 15 (128 bytes on LP64)", () => {
    expect(pteChainGeometry()).toEqual({ nrpte: 15, lineBytes: 64, size: { ilp32: 64, lp64: 128 } });
    expect(pteChainGeometry({ lineBytes: 32 })).toEqual({ nrpte: 7, lineBytes: 32, size: { ilp32: 32, lp64: 64 } });
    expect(pteChainGeometry({ lineBytes: 128 }).nrpte).toBe(31);
    expect(pteChainGeometry({ nrpte: 2 }).size).toEqual({ ilp32: 64, lp64: 64 });
    // struct page grows by the pte union: one word per frame.
    const s = session([]);
    expect(design(s).fixedMemory()).toEqual({ ilp32: 4 * s.world.frameCount, lp64: 8 * s.world.frameCount });
  });

  it("pte-chain: one mapping is PG_direct; fork converts it to a one-block chain holding both (D3's case)", () => {
    //   mm1  .Aa     write 0x1: X, rmap direct(mm1:0x1)
    //   mm2  .Ba     fork: X in both, rmap chain[1 block: mm2:0x1, mm1:0x1]
    const s = session([anon(1, 1, 2), write(1, 1, 7)]);
    const x = pageAt(s, 1, 1);
    expect(rmapOf(s, x)).toBe("direct(mm1:0x1)");
    expect(s.kernel.design.slab.liveCount(PTE_CHAIN)).toBe(0);
    const allocs = s.kernel.counters.objectsAllocatedAtFork;
    apply(s, fork(1, 2));
    expect(rmapOf(s, x)).toBe("chain[1 blocks, 2 ptes]");
    expect(s.kernel.counters.objectsAllocatedAtFork - allocs).toBe(1);
    expect(s.kernel.design.slab.memory()).toEqual({ ilp32: 64, lp64: 128 });
    expect(walkOf(s, x)).toEqual(["mm1:0x1", "mm2:0x1"]);
    // swapout unmaps both through the chain; the block goes with the last entry.
    apply(s, { op: "swapout", mm: 1, addr: 1 });
    expect(s.kernel.mms.get(2)?.pt.get(1)?.kind).toBe("swap");
    expect(s.kernel.design.slab.liveCount(PTE_CHAIN)).toBe(0);
  });

  it("pte-chain: when a sharer exits, the one-entry chain collapses back to PG_direct", () => {
    //   mm1  .A      X shared by mm1 and mm2, then mm2 exits
    //   mm2  .B  → gone
    const s = session([anon(1, 1, 1), write(1, 1, 7), fork(1, 2)]);
    const x = pageAt(s, 1, 1);
    apply(s, exit(2));
    expect(rmapOf(s, x)).toBe("direct(mm1:0x1)");
    expect(s.kernel.design.slab.liveCount(PTE_CHAIN)).toBe(0);
    expect(walkOf(s, x)).toEqual(["mm1:0x1"]);
  });

  it("pte-chain: with NRPTE 2, five sharers need three blocks; exits search the chain and free emptied heads", () => {
    //   mm1..mm5  .A   X written by mm1, then four forks: 5 PTEs in 3 blocks (head 1 + 2 + 2)
    const nrpte2 = makePteChain({ nrpte: 2, name: "pte-chain-nrpte2" });
    const s = session([anon(1, 1, 1), write(1, 1, 7), fork(1, 2), fork(1, 3), fork(1, 4), fork(1, 5)], nrpte2);
    const x = pageAt(s, 1, 1);
    expect(rmapOf(s, x)).toBe("chain[3 blocks, 5 ptes]");
    expect(s.kernel.design.slab.liveCount(PTE_CHAIN)).toBe(3);
    expect(walkOf(s, x)).toEqual(["mm1:0x1", "mm2:0x1", "mm3:0x1", "mm4:0x1", "mm5:0x1"]);
    // mm2's entry sits in the tail block (added first after the conversion): the search reads
    // every slot before it; the hole is filled from the head, which empties and is freed.
    const before = s.kernel.counters.ptesChecked;
    apply(s, exit(2));
    expect(s.kernel.counters.ptesChecked - before).toBeGreaterThanOrEqual(4);
    expect(rmapOf(s, x)).toBe("chain[2 blocks, 4 ptes]");
    apply(s, exit(3));
    expect(rmapOf(s, x)).toBe("chain[2 blocks, 3 ptes]");
    apply(s, exit(4));
    expect(rmapOf(s, x)).toBe("chain[1 blocks, 2 ptes]");
    apply(s, exit(5));
    expect(rmapOf(s, x)).toBe("direct(mm1:0x1)");
    expect(s.kernel.design.slab.allocatedCount(PTE_CHAIN)).toBe(3);
    expect(s.kernel.design.slab.liveCount(PTE_CHAIN)).toBe(0);
  });

  it("pte-chain: file pages are chained too: two processes reading a shared file page", () => {
    //   mm1  .AAa    shared file0@0, fork (shared: no PTE copied), both read 0x2: F = file0@1
    //   mm2  .Bbb → .bBb
    const s = session([sharedFile(1, 1, 3, 0, 0), read(1, 2), fork(1, 2)]);
    const f = pageAt(s, 1, 2);
    expect(rmapOf(s, f)).toBe("direct(mm1:0x2)");
    const allocs = s.kernel.counters.objectsAllocatedAtFault;
    apply(s, read(2, 2));
    expect(rmapOf(s, f)).toBe("chain[1 blocks, 2 ptes]");
    expect(s.kernel.counters.objectsAllocatedAtFault - allocs).toBe(1);
    expect(walkOf(s, f)).toEqual(["mm1:0x2", "mm2:0x2"]);
  });

  it("pte-chain: mremap moves the entry (remove at the old address, add at the new one)", () => {
    //   mm1  .A..........     X at 0x1 in both
    //   mm2  ..........B      mm2 moves its copy to 0xa: X's chain names mm2:0xa
    const s = session([anon(1, 1, 1), write(1, 1, 7), fork(1, 2)]);
    const x = pageAt(s, 1, 1);
    apply(s, { op: "mremap", mm: 2, addr: 1, len: 1, newLen: 1, maymove: true, fixed: true, newAddr: 10 });
    expect(walkOf(s, x)).toEqual(["mm1:0x1", "mm2:0xa"]);
    expect(rmapOf(s, x)).toBe("chain[1 blocks, 2 ptes]");
  });

  it("pte-chain: migration hands the chain to the new page", () => {
    const s = session([anon(1, 1, 1), write(1, 1, 7), fork(1, 2)]);
    const xPfn = pageAt(s, 1, 1).pfn;
    apply(s, { op: "migrate", mm: 1, addr: 1 }); // X is freed (and poisoned)
    const y = pageAt(s, 2, 1);
    expect(y.pfn).not.toBe(xPfn);
    expect(rmapOf(s, y)).toBe("chain[1 blocks, 2 ptes]");
    expect(walkOf(s, y)).toEqual(["mm1:0x1", "mm2:0x1"]);
    expect(s.kernel.design.slab.liveCount(PTE_CHAIN)).toBe(1);
  });
});

describe("pte-chain: the property", () => {
  for (const seed of [11, 12]) {
    it(`pte-chain: 300 random sequences hold (seed ${seed})`, () => {
      const r = checkDesign({ design: pteChain, seed, runs: 300 });
      const cx = r.counterexample;
      expect(r.ok, cx && `${cx.failure.message}\n${cx.commands.map(cmdToString).join("\n")}`).toBe(true);
    });
  }
  it("pte-chain (NRPTE 2, multi-block chains): 300 random sequences hold (seed 13)", () => {
    const r = checkDesign({ design: makePteChain({ nrpte: 2, name: "pte-chain-nrpte2" }), seed: 13, runs: 300 });
    const cx = r.counterexample;
    expect(r.ok, cx && `${cx.failure.message}\n${cx.commands.map(cmdToString).join("\n")}`).toBe(true);
  });
});

describe("pte-chain: planted bugs are caught", () => {
  it("pte-chain/lose-old-entry-on-direct-to-chain: primer D3 (write; fork; swapout) fails I1 at the fork", () => {
    // Why this test? D3 is the primer's pte-chain weakness: the direct → chain conversion must
    // keep the old entry. The hand-written sequence fails at the fork, before the swapout
    // would lose the parent's data.
    const cmds = [anon(1, 1, 1), write(1, 1, 7), fork(1, 2), { op: "swapout", mm: 1, addr: 1 } as Cmd];
    const r = runSequence(pteChain, cmds, { mutant: "lose-old-entry-on-direct-to-chain" });
    expect(r.failure?.invariant).toBe("I1");
    expect(r.failure?.step).toBe(2);
    // The new entry was written over the old one: the child twice, the parent never.
    expect(r.failure?.page?.ref).toEqual(["mm1:0x1", "mm2:0x1"]);
    expect(r.failure?.page?.walk).toEqual(["mm2:0x1", "mm2:0x1"]);
  });

  it("pte-chain/lose-old-entry-on-direct-to-chain: the property finds it (I1, ≤ 4 commands)", () => {
    const r = checkDesign({ design: pteChain, mutant: "lose-old-entry-on-direct-to-chain", seed: 1, runs: 2000 });
    expect(r.ok).toBe(false);
    expect(r.counterexample?.failure.invariant).toBe("I1");
    expect(r.counterexample?.commands.length).toBeLessThanOrEqual(4);
  });

  it("pte-chain/no-rmap-at-fork: the property finds it (I1, ≤ 3 commands)", () => {
    const r = checkDesign({ design: pteChain, mutant: "no-rmap-at-fork", seed: 1, runs: 2000 });
    expect(r.ok).toBe(false);
    expect(r.counterexample?.failure.invariant).toBe("I1");
    expect(r.counterexample?.commands.length).toBeLessThanOrEqual(3);
  });
});
