/*
 * hint-map: known-answer scenarios, the property, and the planted bug.
 *
 * Pictures: one row per mm, letters are vmas (uppercase: a present PTE, lowercase: none);
 * X, Y name physical pages; "hint" is page.rmap.
 */
import { describe, expect, it } from "vitest";
import { type Cmd, cmdToString } from "../../model/commands.js";
import { Session, runSequence } from "../../properties/interpreter.js";
import { checkDesign } from "../../properties/property.js";
import type { Page } from "../types.js";
import { rmapWalk } from "../vmscan.js";
import { HintMap, hintMap } from "./hint-map.js";

const anon = (mm: number, addr: number, len: number): Cmd => ({ op: "mmap", mm, addr, len, kind: "anon", prot: "rw", fixed: true });
const write = (mm: number, addr: number, token: number): Cmd => ({ op: "write", mm, addr, token });
const read = (mm: number, addr: number): Cmd => ({ op: "read", mm, addr });
const fork = (mm: number, child: number): Cmd => ({ op: "fork", mm, child });
const exit = (mm: number): Cmd => ({ op: "exit", mm });

function session(cmds: Cmd[]): Session {
  const s = new Session(hintMap);
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

const design = (s: Session) => s.kernel.design as HintMap;

const hintOf = (page: Page): string | undefined => {
  const h = HintMap.hintOf(page);
  return h && `mm${h.mm.id}:0x${h.addr.toString(16)}`;
};

/** The walk's set and how it was answered: "hit" (the hint) or "scan" (every mm). */
function walk(s: Session, page: Page): { set: string[]; how: "hit" | "scan"; mms: number } {
  const d = design(s);
  const [hits, mms] = [d.hintHits, s.kernel.counters.mmsVisited];
  const set = rmapWalk(s.kernel, page)
    .map((m) => `mm${m.vma.mm.id}:0x${m.addr.toString(16)}`)
    .sort();
  return { set, how: d.hintHits > hits ? "hit" : "scan", mms: s.kernel.counters.mmsVisited - mms };
}

describe("hint-map: known answers", () => {
  it("hint-map: a private page written once carries a hint; the walk answers from it", () => {
    //   mm1  .Aa     write 0x1: X, hint mm1:0x1
    const s = session([anon(1, 1, 2), write(1, 1, 7)]);
    const x = pageAt(s, 1, 1);
    expect(hintOf(x)).toBe("mm1:0x1");
    expect(walk(s, x)).toEqual({ set: ["mm1:0x1"], how: "hit", mms: 0 });
  });

  it("hint-map: fork does no rmap work; the shared page's hint is not trusted and the walk scans", () => {
    //   mm1  .Aa     X shared after fork: mapcount 2, hint still mm1:0x1
    //   mm2  .Ba
    const s = session([anon(1, 1, 2), write(1, 1, 7), fork(1, 2)]);
    const x = pageAt(s, 1, 1);
    expect(hintOf(x)).toBe("mm1:0x1");
    expect(s.kernel.counters.objectsAllocatedAtFork).toBe(0);
    expect(walk(s, x)).toEqual({ set: ["mm1:0x1", "mm2:0x1"], how: "scan", mms: 2 });
  });

  it("hint-map: the child's COW leaves the parent exclusive: the old hint is good again", () => {
    //   mm1  .A      X, hint mm1:0x1 (mapcount back to 1)
    //   mm2  .B      Y, the child's copy, hint mm2:0x1
    const s = session([anon(1, 1, 1), write(1, 1, 7), fork(1, 2), write(2, 1, 9)]);
    const [x, y] = [pageAt(s, 1, 1), pageAt(s, 2, 1)];
    expect([hintOf(x), hintOf(y)]).toEqual(["mm1:0x1", "mm2:0x1"]);
    expect(walk(s, x)).toEqual({ set: ["mm1:0x1"], how: "hit", mms: 0 });
    expect(walk(s, y)).toEqual({ set: ["mm2:0x1"], how: "hit", mms: 0 });
  });

  it("hint-map: the parent's COW takes the hint with its PTE: the child's page is found by scanning", () => {
    //   mm1  .A      Y, the parent's copy, hint mm1:0x1
    //   mm2  .B      X, now exclusive to mm2 but without a hint
    const s = session([anon(1, 1, 1), write(1, 1, 7), fork(1, 2), write(1, 1, 9)]);
    const x = pageAt(s, 2, 1);
    expect(hintOf(x)).toBeUndefined();
    expect(walk(s, x)).toEqual({ set: ["mm2:0x1"], how: "scan", mms: 2 });
    // ...until mm1 exits: then the scan is over one mm.
    apply(s, exit(1));
    expect(walk(s, x)).toEqual({ set: ["mm2:0x1"], how: "scan", mms: 1 });
  });

  it("hint-map: page-cache pages never carry a hint", () => {
    //   mm1  .AA     shared file0@0, read 0x1
    const s = session([{ op: "mmap", mm: 1, addr: 1, len: 2, kind: "shared-file", prot: "rw", fixed: true, file: 0, pgoff: 0 }, read(1, 1)]);
    const f = pageAt(s, 1, 1);
    expect(hintOf(f)).toBeUndefined();
    expect(walk(s, f)).toEqual({ set: ["mm1:0x1"], how: "scan", mms: 1 });
  });

  it("hint-map: mremap and migration carry the hint along", () => {
    //   mm1  .A........  →  ..........A    X moved to 0xa, then migrated to a new frame
    const s = session([anon(1, 1, 1), write(1, 1, 7)]);
    apply(s, { op: "mremap", mm: 1, addr: 1, len: 1, newLen: 1, maymove: true, fixed: true, newAddr: 10 });
    expect(hintOf(pageAt(s, 1, 10))).toBe("mm1:0xa");
    apply(s, { op: "migrate", mm: 1, addr: 10 });
    const y = pageAt(s, 1, 10);
    expect(hintOf(y)).toBe("mm1:0xa");
    expect(walk(s, y)).toEqual({ set: ["mm1:0xa"], how: "hit", mms: 0 });
  });

  it("hint-map: memory is one pointer per struct page, nothing per mapping", () => {
    const s = session([anon(1, 1, 2), write(1, 1, 7), write(1, 2, 8), fork(1, 2), fork(1, 3)]);
    const frames = s.kernel.frames.length;
    expect(design(s).fixedMemory()).toEqual({ ilp32: 4 * frames, lp64: 8 * frames });
    expect(s.kernel.design.slab.memory()).toEqual({ ilp32: 0, lp64: 0 });
  });
});

describe("hint-map: the property", () => {
  for (const seed of [31, 32]) {
    it(`hint-map: 300 random sequences hold (seed ${seed})`, () => {
      const r = checkDesign({ design: hintMap, seed, runs: 300 });
      const cx = r.counterexample;
      expect(r.ok, cx && `${cx.failure.message}\n${cx.commands.map(cmdToString).join("\n")}`).toBe(true);
    });
  }
});

describe("hint-map: the planted bugs are caught", () => {
  it("hint-map/hint-not-cleared-at-zap: the walk survives a stale hint, the contract checks do not (I9, 2 commands)", () => {
    // Why this test? The pfn check hides a hint that outlived its PTE (every walk falls back
    // correctly), so only the design's own invariants can find it: here a page freed with
    // its hint at the final exit.
    const r = checkDesign({ design: hintMap, mutant: "hint-not-cleared-at-zap", seed: 1, runs: 2000 });
    expect(r.ok).toBe(false);
    expect(r.counterexample?.failure.invariant).toBe("I9");
    expect(r.counterexample?.commands.length).toBe(2);
  });

  it("hint-map/hint-not-cleared-at-zap: a sharer keeping the page mapped shows it as a stale hint (HM3, I2)", () => {
    //   mm1  .A  → .a     X hinted at mm1:0x1, shared with mm2, then mm1 drops it
    //   mm2  .B           X still mapped: the hint names a PTE that no longer maps it
    const cmds = [anon(1, 1, 1), write(1, 1, 7), fork(1, 2), { op: "madvise", mm: 1, addr: 1, len: 1, advice: "dontneed" } as Cmd];
    const r = runSequence(hintMap, cmds, { mutant: "hint-not-cleared-at-zap" });
    expect(r.failure?.invariant).toBe("I2");
    expect(r.failure?.step).toBe(3);
    expect(r.failure?.message).toContain("HM3");
  });

  it("hint-map/trust-stale-hint: a hint used without the exclusivity test misses the child (I1, write; fork)", () => {
    // Why this test? Linus's contract: the hint may be trusted only for an unshared page. A
    // walk that skips the mapcount test answers from the parent's hint after a fork.
    const r = checkDesign({ design: hintMap, mutant: "trust-stale-hint", seed: 3, runs: 2000 });
    expect(r.ok).toBe(false);
    const cx = r.counterexample;
    expect(cx?.failure.invariant).toBe("I1");
    expect(cx?.commands.map(cmdToString)).toEqual(["mmap(mm1, 0x1+1, rw, PRIVATE|ANON|FIXED)", "write(mm1, 0x1, 1)", "fork(mm1) → mm2"]);
    expect(cx?.failure.page?.walk).toEqual(["mm1:0x1"]);
  });

  it("hint-map/trust-stale-hint: the correct design passes the same sequence with a scan", () => {
    const cmds = [anon(1, 1, 2), write(1, 1, 1), fork(1, 2), { op: "swapout", mm: 1, addr: 1 } as Cmd];
    expect(runSequence(hintMap, cmds).failure).toBeUndefined();
    expect(runSequence(hintMap, cmds, { mutant: "trust-stale-hint" }).failure?.invariant).toBe("I1");
  });
});
