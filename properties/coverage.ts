/*
 * Coverage marks (TigerBeetle's testing/marks idea): named abstract states a campaign must
 * reach, so that "the property held" means something. Each mark is counted once per run that
 * reached it. A mark built on a kernel event reads the kernel's counters at the end of the
 * run; the rest are observed step by step.
 */
import type { Cmd } from "../model/commands.js";
import type { Kernel } from "../impl/kernel.js";

export const requiredMarks = [
  "fork-depth-3",
  "page-mapped-by-3-mms",
  "cow-break-after-fork",
  "vma-split",
  "vma-merge",
  "mremap-move-cow-shared",
  "mremap-back-next-to-origin",
  "reclaim-under-pressure",
  "swapin-by-other-mm",
  "exit-middle-generation",
  "truncate-over-mapped",
] as const;

export type Mark = (typeof requiredMarks)[number];

/** Marks that are one kernel counter being non-zero at the end of the run. */
const counterMarks: [Mark, keyof Kernel["counters"]][] = [
  ["cow-break-after-fork", "cowBreaksShared"],
  ["vma-split", "vmaSplits"],
  ["vma-merge", "vmaMerges"],
  ["mremap-move-cow-shared", "mremapMovesShared"],
  ["mremap-back-next-to-origin", "mremapMergesAtDest"],
  ["reclaim-under-pressure", "pressureReclaims"],
  ["swapin-by-other-mm", "swapinsByOtherMm"],
  ["truncate-over-mapped", "truncateZaps"],
];

/** Observes one run. */
export class RunCoverage {
  readonly hits = new Set<Mark>();
  private readonly parent = new Map<number, number>();
  private readonly depth = new Map<number, number>([[1, 0]]);
  private readonly live = new Set<number>([1]);

  /** After each applied (not skipped) command. */
  observe(cmd: Cmd, k: Kernel): void {
    if (cmd.op === "fork") {
      this.parent.set(cmd.child, cmd.mm);
      const d = (this.depth.get(cmd.mm) ?? 0) + 1;
      this.depth.set(cmd.child, d);
      this.live.add(cmd.child);
      if (d >= 3) this.hits.add("fork-depth-3");
    } else if (cmd.op === "exit") {
      if (this.hasLiveAncestor(cmd.mm) && this.hasLiveDescendant(cmd.mm)) this.hits.add("exit-middle-generation");
      this.live.delete(cmd.mm);
    }
    if (!this.hits.has("page-mapped-by-3-mms") && (cmd.op === "fork" || cmd.op === "read")) {
      if (maxMmsPerFrame(k) >= 3) this.hits.add("page-mapped-by-3-mms");
    }
  }

  /** At the end of the run. */
  finish(k: Kernel): Set<Mark> {
    for (const [mark, counter] of counterMarks) if (k.counters[counter] > 0) this.hits.add(mark);
    return this.hits;
  }

  private hasLiveAncestor(mm: number): boolean {
    for (let p = this.parent.get(mm); p !== undefined; p = this.parent.get(p)) if (this.live.has(p)) return true;
    return false;
  }

  private hasLiveDescendant(mm: number): boolean {
    for (const id of this.live) {
      for (let p = this.parent.get(id); p !== undefined; p = this.parent.get(p)) if (p === mm) return true;
    }
    return false;
  }
}

function maxMmsPerFrame(k: Kernel): number {
  const mmsOf = new Map<number, Set<number>>();
  for (const mm of k.mms.values()) {
    for (const pte of mm.pt.values()) {
      if (pte.kind !== "present") continue;
      const set = mmsOf.get(pte.pfn) ?? new Set<number>();
      set.add(mm.id);
      mmsOf.set(pte.pfn, set);
    }
  }
  let max = 0;
  for (const s of mmsOf.values()) max = Math.max(max, s.size);
  return max;
}

/** Runs that reached each mark, over a campaign. */
export type CoverageCounts = Record<Mark, number>;

export function emptyCoverage(): CoverageCounts {
  return Object.fromEntries(requiredMarks.map((m) => [m, 0])) as CoverageCounts;
}

export function addCoverage(into: CoverageCounts, hits: Iterable<Mark> | CoverageCounts): void {
  if (Symbol.iterator in Object(hits)) {
    for (const m of hits as Iterable<Mark>) into[m]++;
  } else {
    for (const m of requiredMarks) into[m] += (hits as CoverageCounts)[m];
  }
}

export const missingMarks = (c: CoverageCounts): Mark[] => requiredMarks.filter((m) => c[m] === 0);
