/*
 * Why this test? A race is shrunk like any argument: the minimizer drops it if the failure
 * shows without it, else removes steps of either thread from its schedule one at a time. A
 * long schedule that happens to lose the race must come back as the few switches that matter.
 */
import { describe, expect, it } from "vitest";
import type { Cmd } from "../model/commands.js";
import { findDesign } from "../impl/designs/index.js";
import { minimize } from "./property.js";

const mergeBack = (schedule: number[]): Cmd[] => [
  { op: "mmap", mm: 1, addr: 4, len: 2, kind: "anon", prot: "rw", fixed: true },
  { op: "write", mm: 1, addr: 4, token: 1 },
  { op: "write", mm: 1, addr: 5, token: 2 },
  { op: "mmap", mm: 1, addr: 20, len: 1, kind: "anon", prot: "rw", fixed: true },
  { op: "mremap", mm: 1, addr: 5, len: 1, newLen: 1, maymove: true, fixed: true, newAddr: 16 },
  { op: "mremap", mm: 1, addr: 16, len: 1, newLen: 1, maymove: true, fixed: true, newAddr: 5, race: { walker: "migrate", mm: 1, addr: 16, schedule } },
];

describe("interleaving mode: shrinking", () => {
  it("anon-vma-chain+need-rmap-locks-false: an unneeded command goes, and the schedule keeps only the switches that lose the race", () => {
    const design = findDesign("anon-vma-chain");
    if (!design) throw new Error("anon-vma-chain");
    const long = [0, 0, 1, 1, 0, 1, 1, 1, 0, 0, 1, 0, 1, 1, 0];
    const { commands, result } = minimize(mergeBack(long), "I10", { design, quirks: ["need-rmap-locks-false"] });
    expect(result.failure?.invariant).toBe("I10");
    // Neither the write to the neighbour (it shares the anon_vma since the split) nor the mmap elsewhere is needed.
    expect(commands.map((c) => c.op)).toEqual(["mmap", "write", "mremap", "mremap"]);
    const race = commands.at(-1);
    if (race?.op !== "mremap" || !race.race) throw new Error("the race was dropped");
    // mremap, copy_vma, the walk's lock and first visit; then the lowest runnable thread: the move.
    expect(race.race.schedule).toEqual([0, 0, 1, 1]);
  });
});

describe("interleaving mode: shrinking a fork's race", () => {
  it("anon-vma-chain+fork-no-vma-lock: a long schedule comes back as fork's two steps, then the fault's three", () => {
    const design = findDesign("anon-vma-chain");
    if (!design) throw new Error("anon-vma-chain");
    const long = [0, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 0];
    const cmds: Cmd[] = [
      { op: "mmap", mm: 1, addr: 4, len: 2, kind: "anon", prot: "rw", fixed: true },
      { op: "mmap", mm: 1, addr: 20, len: 1, kind: "anon", prot: "rw", fixed: true },
      { op: "fork", mm: 1, child: 2, race: { walker: "write", mm: 1, addr: 5, token: 7, schedule: long } },
      { op: "read", mm: 2, addr: 5 },
    ];
    const { commands, result } = minimize(cmds, "I1", { design, quirks: ["fork-no-vma-lock"] });
    expect(result.failure?.invariant).toBe("I1");
    expect(commands.map((c) => c.op)).toEqual(["mmap", "fork"]);
    const fork = commands.at(-1);
    if (fork?.op !== "fork" || !fork.race) throw new Error("the race was dropped");
    // mmap_write_lock + dup_mm, dup of the vma; then the fault: lookup, anon_vma_prepare, install.
    expect(fork.race.schedule).toEqual([0, 0, 1, 1, 1]);
  });
});
