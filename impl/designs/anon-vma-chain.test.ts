/*
 * Known-answer scenarios for anon-vma-chain (6.0 reuse rule), anon-vma-chain-3.19
 * (the 3.19–5.19 degree rule, CVE-2022-42703) and anon-vma-chain-6.16 (6.16's merge of a
 * moved range into an unfaulted neighbour, CVE-2026-23077), the property for the 6.0 design,
 * and its planted bugs (primer B4, B5).
 *
 * Pictures: one row per mm, one letter per page of a vma; a capital marks a written page.
 * anon_vmas are numbered in allocation order (#1 is the first root).
 */
import { describe, expect, it } from "vitest";
import { type Cmd, cmdToString } from "../../model/commands.js";
import { checkDesign } from "../../properties/property.js";
import { Session, runSequence } from "../../properties/interpreter.js";
import type { Page } from "../types.js";
import { rmapWalk } from "../vmscan.js";
import { type AnonVma, anonVmaChain, anonVmaChain319, anonVmaChain616 } from "./anon-vma-chain.js";

const mmapAnon = (mm: number, addr: number, len: number, prot: "r" | "rw" = "rw"): Cmd => ({ op: "mmap", mm, addr, len, kind: "anon", prot, fixed: true });
const write = (mm: number, addr: number, token: number): Cmd => ({ op: "write", mm, addr, token });
const read = (mm: number, addr: number): Cmd => ({ op: "read", mm, addr });
const fork = (mm: number, child: number): Cmd => ({ op: "fork", mm, child });
const exit = (mm: number): Cmd => ({ op: "exit", mm });
const mprotect = (mm: number, addr: number, len: number, prot: "r" | "rw"): Cmd => ({ op: "mprotect", mm, addr, len, prot });
const swapout = (mm: number, addr: number): Cmd => ({ op: "swapout", mm, addr });
const mremapTo = (mm: number, addr: number, len: number, newAddr: number): Cmd => ({ op: "mremap", mm, addr, len, newLen: len, maymove: true, fixed: true, newAddr });

/** Apply commands that must all hold. */
function run(s: Session, cmds: readonly Cmd[]): void {
  for (const cmd of cmds) {
    const r = s.apply(cmd);
    expect(r.violation, `${cmdToString(cmd)}: ${r.violation?.message}`).toBeUndefined();
  }
}

function pageAt(s: Session, mm: number, addr: number): Page {
  const pte = s.kernel.mms.get(mm)?.pt.get(addr);
  if (pte?.kind !== "present") throw new Error(`no page at mm${mm}:${addr}`);
  const page = s.kernel.pageAt(pte.pfn);
  if (!page) throw new Error(`free frame at mm${mm}:${addr}`);
  return page;
}

const walkOf = (s: Session, page: Page): string[] =>
  rmapWalk(s.kernel, page)
    .map((m) => `mm${m.vma.mm.id}:${m.addr}`)
    .sort();

const live = (s: Session, kind: string): number => s.kernel.design.slab.liveCount(kind);

describe("anon-vma-chain known answers", () => {
  it("anon-vma-chain: fork gives the child its own anon_vma and a chain to the parent's", () => {
    //   mm1  0x1 [A]      A = anon vma, page X written at 0x1: anon_vma #1, chain {#1}
    //   mm2  0x1 [a]      fork: X shared; anon_vma #2 (parent #1), chain {#2, #1}
    //   mm2  0x1 [B]      write: COW copy Y goes to #2 only
    const s = new Session(anonVmaChain);
    run(s, [mmapAnon(1, 1, 1), write(1, 1, 7)]);
    expect(s.kernel.counters.objectsAllocatedAtFault).toBe(2);
    run(s, [fork(1, 2)]);
    const x = pageAt(s, 1, 1);
    expect(walkOf(s, x)).toEqual(["mm1:1", "mm2:1"]);
    expect(live(s, "anon_vma")).toBe(2);
    expect(live(s, "anon_vma_chain")).toBe(3);
    // per fork per vma: one anon_vma + (chain length 1) + 1 chain objects
    expect(s.kernel.counters.objectsAllocatedAtFork).toBe(3);
    expect(s.kernel.design.slab.memory()).toEqual({ ilp32: 2 * 52 + 3 * 32, lp64: 2 * 96 + 3 * 64 });
    run(s, [write(2, 1, 8)]);
    const y = pageAt(s, 2, 1);
    expect((y.mapping as AnonVma).id).toBe(2);
    expect(walkOf(s, y)).toEqual(["mm2:1"]);
    expect(walkOf(s, x)).toEqual(["mm1:1"]);
    run(s, [exit(1)]);
    // #1 stays: mm2's vma is still on its tree (it may map mm1's old pages).
    expect(live(s, "anon_vma")).toBe(2);
    run(s, [exit(2)]);
    expect(live(s, "anon_vma")).toBe(0);
    expect(live(s, "anon_vma_chain")).toBe(0);
  });

  it("anon-vma-chain: the walk queries only chains whose pgoff range covers the index (3.7+)", () => {
    //   mm1  0x1 [A|b|c]   one vma split in three by mprotect: three chains on anon_vma #1
    const s = new Session(anonVmaChain);
    run(s, [mmapAnon(1, 1, 4), write(1, 1, 7), mprotect(1, 3, 1, "r")]);
    expect(s.kernel.mms.get(1)?.vmas.length).toBe(3);
    expect(live(s, "anon_vma")).toBe(1);
    expect(live(s, "anon_vma_chain")).toBe(3);
    const before = s.kernel.counters.ptesChecked;
    expect(walkOf(s, pageAt(s, 1, 1))).toEqual(["mm1:1"]);
    expect(s.kernel.counters.ptesChecked - before).toBe(1);
  });

  it("anon-vma-chain: anon_vma_prepare reuses a singular neighbour's anon_vma, not a forked one's (B5)", () => {
    //   mm1  0x1 [A a|B b]     [1,3) written then made r; [3,5) mmapped rw: write 0x3 reuses #1
    //   mm2  0x1 [a a|b b|C c] fork; a new rw vma after [3,5) (chain {#2,#1}): a new root #3
    const s = new Session(anonVmaChain);
    run(s, [mmapAnon(1, 1, 2), write(1, 1, 1), mprotect(1, 1, 2, "r"), mmapAnon(1, 3, 2), write(1, 3, 2)]);
    expect(s.kernel.mms.get(1)?.vmas.length).toBe(2);
    expect(live(s, "anon_vma")).toBe(1);
    expect(s.kernel.counters.objectsAllocatedAtFault).toBe(3);
    expect((pageAt(s, 1, 3).mapping as AnonVma).id).toBe(1);
    run(s, [fork(1, 2), mmapAnon(2, 5, 2), write(2, 5, 3)]);
    const z = pageAt(s, 2, 5).mapping as AnonVma;
    expect(z.root).toBe(z);
    expect(walkOf(s, pageAt(s, 1, 3))).toEqual(["mm1:3", "mm2:3"]);
  });

  it("anon-vma-chain: a double fork through an exited middle reuses its anon_vma (3.19+)", () => {
    //   mm1 → mm2 → mm3, mm2 exits: #2 keeps one child (#3) and no vma, so fork mm3 → mm4
    //   adopts #2 instead of allocating: chain {#3, #2, #1} stays three long.
    for (const design of [anonVmaChain, anonVmaChain319]) {
      const s = new Session(design);
      run(s, [mmapAnon(1, 1, 1), write(1, 1, 1), fork(1, 2), fork(2, 3), exit(2)]);
      expect(live(s, "anon_vma")).toBe(3);
      run(s, [fork(3, 4)]);
      expect(live(s, "anon_vma"), design.name).toBe(3);
      const v4 = s.kernel.mms.get(4)?.vmas[0];
      expect((v4?.anonVma as AnonVma | undefined)?.id, design.name).toBe(2);
      expect(walkOf(s, pageAt(s, 1, 1))).toEqual(["mm1:1", "mm3:1", "mm4:1"]);
    }
  });

  it("anon-vma-chain: a non-exclusive swap-in page gets the root anon_vma (B4 fix)", () => {
    //   mm1  0x1 [A]   X written, fork, swapped out: two swap PTEs
    //   mm2  0x1 [a]   the child faults X in first: X.mapping must be #1, not mm2's #2
    const s = new Session(anonVmaChain);
    run(s, [mmapAnon(1, 1, 1), write(1, 1, 1), fork(1, 2), swapout(1, 1), read(2, 1), read(1, 1)]);
    const x = pageAt(s, 1, 1);
    expect((x.mapping as AnonVma).id).toBe(1);
    expect(walkOf(s, x)).toEqual(["mm1:1", "mm2:1"]);
  });
});

/*
 * CVE-2022-42703 (primer B1), the model-checked sequence in our command language: m1's 4-page
 * vma is 0x1..0x4 ("page 2" = 0x3); f0 = rw, f1 = r. Our f1 is not writable, so
 * mprotect(m6, f0) comes before write(m6) instead of after (the same vmas and anon_vmas).
 *
 *   mm4  [a a|b|c]  after mm2 and mm3 exit: #2 reused by mm4, #3 has no vma ("abandoned leaf")
 *   mm5  [a a|b|c]  3.19 reuses #3 for both 0x1 and 0x3 (degree 0, then 1 < 2)
 *   mm6  [a a|B|c]  fresh #6a, #6b, #6c; Y written at 0x3 → #6b
 *   mm7  [a a|b|c]  after mm5 exits #3 is "free" again: 3.19 gives it to 0x1 (chain {#6a..})
 *                   and to 0x3 (chain {#6b..}): same anon_vma, different chains (I5)
 *   mprotect(m7, 0x3, r) then rw: the 0x3 vma merges into 0x1's, dropping the chain to #6b:
 *   Y at mm7:0x3 is unreachable (I1); exit(mm6) frees #6b under Y (I4).
 */
const b1: Cmd[] = [
  mmapAnon(1, 1, 4),
  write(1, 1, 1),
  fork(1, 2),
  fork(2, 3),
  exit(2),
  fork(3, 4),
  exit(3),
  mprotect(4, 3, 1, "r"),
  fork(4, 5),
  fork(4, 6),
  mprotect(6, 3, 1, "rw"),
  write(6, 3, 2),
  exit(5),
  fork(6, 7),
  mprotect(7, 3, 1, "r"),
  mprotect(7, 3, 1, "rw"),
  exit(6),
];

describe("anon-vma-chain CVE-2022-42703 (B1)", () => {
  it("anon-vma-chain-3.19: the B1 sequence breaks I5 at fork(mm6) → mm7, then I1, then I4", () => {
    const s = new Session(anonVmaChain319);
    const found: string[] = [];
    for (const cmd of b1) {
      const v = s.apply(cmd).violation;
      if (v) found.push(`${cmdToString(cmd)}: ${v.invariant}`);
    }
    expect(found).toEqual([
      "fork(mm6) → mm7: I5",
      "mprotect(mm7, 0x3+1, r): I5",
      "mprotect(mm7, 0x3+1, rw): I1",
      "exit(mm6): I4",
    ]);
  });

  it("anon-vma-chain-3.19: runSequence reports the first failure, I5 at step 13", () => {
    const r = runSequence(anonVmaChain319, b1);
    expect(r.failure?.invariant).toBe("I5");
    expect(r.failure?.step).toBe(13);
  });

  it("anon-vma-chain: the 6.0 rule passes the B1 sequence and its exits", () => {
    const r = runSequence(anonVmaChain, b1);
    expect(r.failure, r.failure?.message).toBeUndefined();
    const s = new Session(anonVmaChain);
    run(s, b1.slice(0, 14));
    // 6.0 reuses the abandoned #3 once only: mm7's 0x1 and 0x3 vmas keep different anon_vmas.
    const [v7a, v7b] = s.kernel.mms.get(7)?.vmas ?? [];
    expect(v7a?.anonVma).not.toBe(v7b?.anonVma);
  });
});

describe("anon-vma-chain property and mutants", () => {
  for (const seed of [1, 2]) {
    it(`anon-vma-chain: 300 random sequences hold (seed ${seed})`, () => {
      const r = checkDesign({ design: anonVmaChain, seed, runs: 300 });
      const cx = r.counterexample;
      expect(r.ok, cx && `${cx.failure.message}\n${cx.commands.map(cmdToString).join("\n")}`).toBe(true);
    });
  }

  it("anon-vma-chain/b4-youngest-anon-vma: a shared swap-in tagged with the child's anon_vma is caught", () => {
    const r = checkDesign({ design: anonVmaChain, mutant: "b4-youngest-anon-vma", seed: 3, runs: 2000 });
    expect(r.ok).toBe(false);
    expect(["I1", "I4", "I6"]).toContain(r.counterexample?.failure.invariant);
    // The swap-out comes from reclaim under memory pressure (6 frames), so the writes that
    // fill memory are essential: the 1-minimal sequence is longer than the hand-written one.
    expect(r.counterexample?.commands.length).toBeLessThanOrEqual(16);
  });

  it("anon-vma-chain/b5-prepare-reuses-nonsingular: a forked neighbour's anon_vma reused is caught", () => {
    const r = checkDesign({ design: anonVmaChain, mutant: "b5-prepare-reuses-nonsingular", seed: 4, runs: 2000, maxCommands: 30 });
    expect(r.ok).toBe(false);
    expect(r.counterexample?.failure.invariant).toBe("I5");
    expect(r.counterexample?.commands.length).toBeLessThanOrEqual(6);
  });
});

/*
 * 6.16's merge rules (docs/merge-6.16.md): mremap may move a faulted range next to an
 * unfaulted neighbour and merge with it (879bca0a2c4f); the neighbour must then adopt the
 * moved range's anon_vma chain (61f67c230a5e, CVE-2026-23077). The four configurations are
 * the fix's own cases 1–4. Pictures: the moved range is M (page X written before the move),
 * u an unfaulted neighbour, F a faulted one; addresses are pages.
 */
const vmasOf = (s: Session, mm = 1): string[] => (s.kernel.mms.get(mm)?.vmas ?? []).map((v) => `[${v.vmStart},${v.vmEnd})`);

/* Case 2, the new user's try: "mmap 2+1; write 2; mremap 2→10; mmap 3+2; mremap 10→2".
 *
 *        0x1 0x2 0x3 0x4 .. 0xa
 *   1.       [M]                   mmap 2+1, write 2: X, anon_vma #1, pgoff 2
 *   2.                      [M]    mremap 2→10: M keeps pgoff 2
 *   3.           [u   u]    [M]    mmap 3+2: u's pgoff is 3, contiguous after M's 2
 *   4.       [M]-[u   u]           mremap 10→2: 6.0 keeps two vmas; 6.16 expands u down: [2,5)
 */
const case2: Cmd[] = [mmapAnon(1, 2, 1), write(1, 2, 7), mremapTo(1, 2, 1, 10), mmapAnon(1, 3, 2), mremapTo(1, 10, 1, 2)];

describe("anon-vma-chain-6.16: a moved range merges into an unfaulted neighbour", () => {
  it("anon-vma-chain: the 6.0 rule leaves the moved range and its unfaulted neighbour apart", () => {
    const s = new Session(anonVmaChain);
    run(s, case2);
    expect(vmasOf(s)).toEqual(["[2,3)", "[3,5)"]);
  });

  it("anon-vma-chain-6.16: case 2 (next unfaulted) merges into one vma that adopts anon_vma #1", () => {
    const s = new Session(anonVmaChain616);
    run(s, case2);
    expect(vmasOf(s)).toEqual(["[2,5)"]);
    const vma = s.kernel.mms.get(1)?.vmas[0];
    const x = pageAt(s, 1, 2);
    expect((x.mapping as AnonVma).id).toBe(1);
    expect(vma?.anonVma).toBe(x.mapping);
    expect(walkOf(s, x)).toEqual(["mm1:2"]);
    expect(live(s, "anon_vma")).toBe(1);
    expect(live(s, "anon_vma_chain")).toBe(1);
    expect(s.kernel.counters.mremapMergesAtDest).toBe(1);
  });

  it("anon-vma-chain-6.16: case 1 (prev unfaulted) and case 3 (both unfaulted) expand prev", () => {
    //        0x1 0x2 0x3 0x4 0x5
    //   1.  [u   u]-[M]            case 1: prev [1,3) pgoff 1 meets M's pgoff 3
    //   3.  [u   u]-[M]-[u   u]    case 3: prev and next unfaulted: one vma [1,6)
    const case1: Cmd[] = [mmapAnon(1, 3, 1), write(1, 3, 7), mremapTo(1, 3, 1, 10), mmapAnon(1, 1, 2), mremapTo(1, 10, 1, 3)];
    const s1 = new Session(anonVmaChain616);
    run(s1, case1);
    expect(vmasOf(s1)).toEqual(["[1,4)"]);
    expect(walkOf(s1, pageAt(s1, 1, 3))).toEqual(["mm1:3"]);
    const case3 = [...case1.slice(0, 4), mmapAnon(1, 4, 2), case1[4] as Cmd];
    const s3 = new Session(anonVmaChain616);
    run(s3, case3);
    expect(vmasOf(s3)).toEqual(["[1,6)"]);
    expect(walkOf(s3, pageAt(s3, 1, 3))).toEqual(["mm1:3"]);
    const s0 = new Session(anonVmaChain);
    run(s0, case3);
    expect(vmasOf(s0)).toEqual(["[1,3)", "[3,4)", "[4,6)"]);
  });

  it("anon-vma-chain-6.16: case 4 (prev unfaulted, next faulted with M's anon_vma) merges on both rules' terms", () => {
    //        0x1 0x2 0x3 0x4 0x5
    //       [u   u]-[M]-[F   f]    F: the rest of M's vma, anon_vma #1; prev takes next's chain
    const case4: Cmd[] = [mmapAnon(1, 3, 3), write(1, 3, 7), write(1, 4, 8), mremapTo(1, 3, 1, 10), mmapAnon(1, 1, 2), mremapTo(1, 10, 1, 3)];
    for (const [design, mutant, layout] of [
      [anonVmaChain616, undefined, ["[1,6)"]],
      [anonVmaChain616, "pre-61f67c230a5e", ["[1,6)"]],
      [anonVmaChain, undefined, ["[1,3)", "[3,6)"]],
    ] as const) {
      const s = new Session(design, { mutant });
      run(s, case4);
      expect(vmasOf(s), `${design.name}/${mutant}`).toEqual(layout);
      expect(walkOf(s, pageAt(s, 1, 3))).toEqual(["mm1:3"]);
    }
  });

  it("anon-vma-chain-6.16: a moved fork child does not merge into an unfaulted neighbour (vma_is_fork_child(copied_from))", () => {
    //   mm1  0x2 [M]            X written, fork: mm2's vma has chain {#2, #1}
    //   mm2  0x2 [M]-[u   u]    mm2 moves its copy away and back: kept apart (lock scalability)
    const forked: Cmd[] = [mmapAnon(1, 2, 1), write(1, 2, 7), fork(1, 2), mremapTo(2, 2, 1, 10), mmapAnon(2, 3, 2), mremapTo(2, 10, 1, 2)];
    const s = new Session(anonVmaChain616);
    run(s, forked);
    expect(vmasOf(s, 2)).toEqual(["[2,3)", "[3,5)"]);
    expect(walkOf(s, pageAt(s, 1, 2))).toEqual(["mm1:2", "mm2:2"]);
    // 6.16.0–6.18.7 merged it anyway, without the chain: the walk of X misses mm2:2 (I1).
    const bad = runSequence(anonVmaChain616, forked, { mutant: "pre-61f67c230a5e" });
    expect(bad.failure?.invariant).toBe("I1");
    expect(bad.failure?.step).toBe(5); // the mremap back (steps count from 0)
  });

  it("anon-vma-chain-6.16/pre-61f67c230a5e: CVE-2026-23077, case 2 frees anon_vma #1 under X (I4)", () => {
    // Why this test? The merge succeeds but vma_expand() never duplicates the copied-from
    // vma's anon_vma into the target; unmapping the source then drops the last chain object
    // on #1, and #1 is freed while X, now mapped through the target, still points to it.
    const s = new Session(anonVmaChain616, { mutant: "pre-61f67c230a5e" });
    run(s, case2.slice(0, 4));
    const v = s.apply(case2[4] as Cmd).violation;
    expect(v?.invariant).toBe("I4");
    // The rmap walk of X is the first to touch the freed (poisoned) anon_vma.
    expect(v?.message).toContain("use-after-free");
    expect(v?.message).toContain("anon_vma freed at munmap");
    expect(vmasOf(s)).toEqual(["[2,5)"]);
    expect(s.kernel.mms.get(1)?.vmas[0]?.anonVma).toBeNull();
  });
});
