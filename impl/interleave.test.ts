/*
 * Interleaving mode's known answers: every schedule of a few small races, exhaustively, on
 * the correct designs (I10 holds) and on the planted bugs (some schedule breaks it), and the
 * two-column trace a report prints.
 *
 * Why these races? A page moved back next to its old neighbour is the one case in which
 * copy_vma() merges the destination into a vma the walk visits *before* the source: the
 * kernel must take the rmap locks there (need_rmap_locks), and B8 / H7 do not. A page moved
 * to a fresh vma is the case in which it need not: the walk visits the new vma after the
 * source (interval tree: same pgoff, inserted later; 2.6.17+ anon_vma list: at the tail).
 */
import { describe, expect, it } from "vitest";
import type { Cmd, MapKind, Race } from "../model/commands.js";
import { runSequence } from "../properties/interpreter.js";
import { reportSchema } from "../properties/report-schema.js";
import { findDesign } from "./designs/index.js";

/** Every schedule of `length` steps (bit i of n: who takes step i). */
function* schedules(length: number): Generator<number[]> {
  for (let n = 0; n < 1 << length; n++) yield Array.from({ length }, (_, i) => (n >> i) & 1);
}
/** Enough steps for a one-page move (5 mover steps) and migration's two walks (7 walker steps). */
const scheduleLength = 12;

const map = (kind: MapKind): Cmd =>
  kind === "anon"
    ? { op: "mmap", mm: 1, addr: 4, len: 2, kind, prot: "rw", fixed: true }
    : { op: "mmap", mm: 1, addr: 4, len: 2, kind, prot: "rw", fixed: true, file: 0, pgoff: 0 };
const move = (addr: number, newAddr: number, race?: Race): Cmd => ({ op: "mremap", mm: 1, addr, len: 1, newLen: 1, maymove: true, fixed: true, newAddr, ...(race ? { race } : {}) });

/*
 *   0x4 0x5          0x10          0x4 0x5
 *   [a | b]  →  [a] .. [b]   →   [a   b]   the second move races a walk of b's page
 */
const mergeBack = (kind: MapKind, walker: Race["walker"], schedule: number[]): Cmd[] => [
  map(kind),
  { op: "write", mm: 1, addr: 4, token: 1 },
  { op: "write", mm: 1, addr: 5, token: 2 },
  move(5, 16),
  move(16, 5, { walker, mm: 1, addr: 16, schedule }),
];

/*   0x4 0x5            0x4       0x10
 *   [a | b]   →   [a]  ..  [b]   the move races a walk of b's page (b's vma is new)
 */
const moveAway = (kind: MapKind, walker: Race["walker"], schedule: number[]): Cmd[] => [
  map(kind),
  { op: "write", mm: 1, addr: 5, token: 2 },
  move(5, 16, { walker, mm: 1, addr: 5, schedule }),
];

type Scenario = (kind: MapKind, walker: Race["walker"], schedule: number[]) => Cmd[];

/** The schedules of `scenario` that fail, with their invariants. */
function failing(design: string, scenario: Scenario, kind: MapKind, walker: Race["walker"], quirks: string[] = []): { schedule: number[]; invariant: string }[] {
  const d = findDesign(design);
  if (!d) throw new Error(design);
  const out: { schedule: number[]; invariant: string }[] = [];
  for (const s of schedules(scheduleLength)) {
    const r = runSequence(d, scenario(kind, walker, s), { quirks });
    if (r.failure) out.push({ schedule: s, invariant: r.failure.invariant });
  }
  return out;
}

describe("interleaving mode: correct designs pass every schedule", () => {
  for (const design of ["anon-vma-chain", "anon-vma-chain-3.19", "anon-vma-chain-6.16"]) {
    it(`${design}: a page moved back into its old neighbour, racing migration (anon, shared file) and swap-out`, () => {
      expect(failing(design, mergeBack, "anon", "migrate")).toEqual([]);
      expect(failing(design, mergeBack, "shared-file", "migrate")).toEqual([]);
      expect(failing(design, mergeBack, "anon", "swapout")).toEqual([]);
    });
    it(`${design}: a page moved to a new vma, racing migration and swap-out (no rmap locks needed)`, () => {
      expect(failing(design, moveAway, "anon", "migrate")).toEqual([]);
      expect(failing(design, moveAway, "private-file", "migrate")).toEqual([]);
      expect(failing(design, moveAway, "anon", "swapout")).toEqual([]);
    });
  }
});

describe("interleaving mode: the planted bugs fail some schedule", () => {
  it("B8 need_rmap_locks forced false: the merge-back race breaks I10 for anon and file pages", () => {
    for (const kind of ["anon", "shared-file"] as const) {
      const bad = failing("anon-vma-chain", mergeBack, kind, "migrate", ["need-rmap-locks-false"]);
      expect(bad.length, kind).toBeGreaterThan(0);
      expect(new Set(bad.map((b) => b.invariant))).toEqual(new Set(["I10"]));
    }
  });
  it("H7 move_ptes without the anon_vma lock: anon pages break I10, file pages (i_mmap_rwsem) do not", () => {
    expect(failing("anon-vma-chain", mergeBack, "anon", "migrate", ["move-ptes-no-anon-vma-lock"]).length).toBeGreaterThan(0);
    expect(failing("anon-vma-chain", mergeBack, "shared-file", "migrate", ["move-ptes-no-anon-vma-lock"])).toEqual([]);
  });
  it("folio_referenced: correct designs leave no young PTE behind; B8 and H7 make it miss one (I10)", () => {
    for (const design of ["anon-vma-chain", "anon-vma-chain-3.19"]) {
      expect(failing(design, mergeBack, "anon", "referenced"), design).toEqual([]);
      expect(failing(design, moveAway, "anon", "referenced"), design).toEqual([]);
      expect(failing(design, mergeBack, "shared-file", "referenced"), design).toEqual([]);
    }
    for (const q of ["need-rmap-locks-false", "move-ptes-no-anon-vma-lock"]) {
      const bad = failing("anon-vma-chain", mergeBack, "anon", "referenced", [q]);
      expect(bad.length, q).toBeGreaterThan(0);
      expect(new Set(bad.map((b) => b.invariant))).toEqual(new Set(["I10"]));
    }
    // 2.6.7's head-of-list links: the walk visits the new vma first (H8) and misses the young bit.
    expect(failing("anon-vma", moveAway, "anon", "referenced").length).toBeGreaterThan(0);
  });
  it("the bugs need a race: with the empty schedule (mremap, then the walk) the quirks pass", () => {
    const d = findDesign("anon-vma-chain");
    if (!d) throw new Error("anon-vma-chain");
    for (const q of ["need-rmap-locks-false", "move-ptes-no-anon-vma-lock"]) {
      expect(runSequence(d, mergeBack("anon", "migrate", []), { quirks: [q] }).failure).toBeUndefined();
    }
  });
});

describe("interleaving mode: anon-vma (2.6.7) links a new vma at the head of its anon_vma's list", () => {
  it("a walk visits mremap's new vma before its source: migration can orphan an entry (catalogue H8)", () => {
    const bad = failing("anon-vma", moveAway, "anon", "migrate");
    expect(bad.map((b) => b.schedule)).toContainEqual([0, 0, 1, 1, 1, 1, 1, 1, 0, 1, 0, 0]);
    expect(failing("anon-vma", mergeBack, "anon", "migrate")).toEqual([]);
  });
});

describe("interleaving mode: the report", () => {
  it("prints the interleaving as two columns, mremap on the left, the walker on the right", () => {
    const d = findDesign("anon-vma-chain");
    if (!d) throw new Error("anon-vma-chain");
    const r = runSequence(d, mergeBack("anon", "migrate", [0, 0, 1, 1, 1, 1, 1, 1, 0, 1]), { quirks: ["need-rmap-locks-false"] });
    expect(r.failure?.invariant).toBe("I10");
    const lines = (r.failure?.message ?? "").split("\n").map((l) => l.trimEnd());
    expect(lines[0]).toContain("migration left a migration entry for page pfn 1 (anon) at mm1:0x5");
    const walker = (s: string) => expect.stringMatching(new RegExp(`^ +\\| ${s}$`));
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(/^mremap +\| walker$/),
      expect.stringMatching(/^-+\+-+$/),
      "mmap_write_lock(mm1)",
      "munmap 0x5+1, split source",
      "copy_vma → merged into vma#4[0x4, 0x6) of mm1, need_rmap_locks=false",
      walker("try_to_migrate: rmap_walk page pfn 1 \\(anon\\): 2 vmas"),
      walker("try_to_migrate: mm1:0x5: not mapped here"),
      walker("try_to_migrate: mm1:0x10 → migration entry"),
      walker("try_to_migrate: rmap unlock"),
      walker("move_to_new_folio: page pfn 1 \\(anon\\) → page pfn 2 \\(anon\\)"),
      walker("remove_migration_ptes: rmap_walk page pfn 2 \\(anon\\): 2 vmas"),
      walker("remove_migration_ptes: mm1:0x5: no entry"),
      "move_pte 0x10 → 0x5 (migration entry)",
      walker("remove_migration_ptes: mm1:0x10: no entry"),
      walker("remove_migration_ptes: rmap unlock"),
      "munmap source 0x10+1",
      "mmap_write_unlock(mm1) (and every vma_start_write)",
    ]);
  });
  it("the lock makes the mover wait: a schedule asking for it while the walk holds the lock passes, and fails without the lock", () => {
    const d = findDesign("anon-vma-chain");
    if (!d) throw new Error("anon-vma-chain");
    // mremap, mremap (copy_vma), the walk takes the lock and visits the neighbour (nothing
    // there yet), then the mremap at every step: move_ptes must wait for the walk's unlock.
    const cmds = mergeBack("anon", "swapout", [0, 0, 1, 1, 0, 0, 0]);
    const r = runSequence(d, cmds);
    expect(r.failure).toBeUndefined();
    expect(r.records[4]?.kernel).toEqual({ kind: "addr", addr: 5 });
    expect(runSequence(d, cmds, { quirks: ["move-ptes-no-anon-vma-lock"] }).failure?.invariant).toBe("I10");
  });
  it("a race is command data: it survives the shrink report's schema", () => {
    const cmd = move(16, 5, { walker: "migrate", mm: 1, addr: 16, schedule: [0, 0, 1] });
    const parsed = reportSchema.shape.commands.element.parse(cmd);
    expect(parsed).toEqual(cmd);
  });
});
