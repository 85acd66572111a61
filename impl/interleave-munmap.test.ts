/*
 * Step-wise munmap (impl/interleave-munmap.ts): every schedule of a small race against each
 * walker keeps I4 (no freed vma or page touched) and I10 (what stays mapped is found) on the
 * correct design; with the unlink's rmap locks removed (H9) some schedule visits a freed vma.
 */
import { describe, expect, it } from "vitest";
import type { Cmd, MapKind, Race } from "../model/commands.js";
import { runSequence } from "../properties/interpreter.js";
import { findDesign } from "./designs/index.js";

function* schedules(length: number): Generator<number[]> {
  for (let n = 0; n < 1 << length; n++) yield Array.from({ length }, (_, i) => (n >> i) & 1);
}
/** A one-page unmap (5 mover steps) and migration's two walks over two vmas (9 walker steps). */
const scheduleLength = 12;

/*   mm1 [a b] written, forked to mm2; mm1 unmaps b while a walker walks b's page (mapped in both) */
const unmapShared = (kind: MapKind, walker: Race["walker"], schedule: number[], fork = true): Cmd[] => [
  kind === "anon"
    ? { op: "mmap", mm: 1, addr: 4, len: 2, kind, prot: "rw", fixed: true }
    : { op: "mmap", mm: 1, addr: 4, len: 2, kind, prot: "rw", fixed: true, file: 0, pgoff: 0 },
  { op: "write", mm: 1, addr: 5, token: 2 },
  ...(fork ? [{ op: "fork", mm: 1, child: 2 } as Cmd] : []),
  { op: "munmap", mm: 1, addr: 5, len: 1, race: { walker, mm: 1, addr: 5, schedule } },
  { op: "read", mm: fork ? 2 : 1, addr: 5 },
];

function failing(kind: MapKind, walker: Race["walker"], quirks: string[] = [], fork = true): { schedule: number[]; invariant: string }[] {
  const d = findDesign("anon-vma-chain");
  if (!d) throw new Error("anon-vma-chain");
  const out: { schedule: number[]; invariant: string }[] = [];
  for (const s of schedules(scheduleLength)) {
    const r = runSequence(d, unmapShared(kind, walker, s, fork), { quirks });
    if (r.failure) out.push({ schedule: s, invariant: r.failure.invariant });
  }
  return out;
}

describe("munmap racing an rmap walk (interleaving mode)", () => {
  for (const walker of ["migrate", "swapout", "referenced"] as const) {
    it(`anon-vma-chain: every schedule of munmap against ${walker} keeps every invariant`, () => {
      expect(failing("anon", walker)).toEqual([]);
      if (walker !== "swapout") expect(failing("shared-file", walker)).toEqual([]);
      expect(failing("anon", walker, [], false), "the page's only mapping unmapped").toEqual([]);
    });
  }
  it("a walker must hold a reference: folio_referenced without one reads the page munmap freed (I4)", () => {
    const bad = failing("anon", "referenced", ["referenced-without-reference"], false);
    expect(bad.length).toBeGreaterThan(0);
    expect(new Set(bad.map((b) => b.invariant))).toEqual(new Set(["I4"]));
  });
  it("H9 (the unlink without the rmap locks): some schedule makes the walk read a freed vma (I4), and the empty schedule does not", () => {
    const bad = failing("anon", "migrate", ["munmap-unlink-without-rmap-locks"]);
    expect(bad.length).toBeGreaterThan(0);
    expect(new Set(bad.map((b) => b.invariant))).toEqual(new Set(["I4"]));
    const d = findDesign("anon-vma-chain");
    if (!d) throw new Error("anon-vma-chain");
    expect(runSequence(d, unmapShared("anon", "migrate", []), { quirks: ["munmap-unlink-without-rmap-locks"] }).failure).toBeUndefined();
  });
});
