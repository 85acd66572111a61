/*
 * exec (impl/exec.ts, impl/interleave-exec.ts): sequentially on every design, what the
 * process sees afterwards (docs/semantics.md, "exec"); in interleaving mode, every schedule of
 * a small race of the stack's move against migration and folio_referenced, on the correct
 * kernel (I10 holds) and with B11 planted back (some schedule leaves a migration entry).
 */
import { describe, expect, it } from "vitest";
import type { Cmd, Race } from "../model/commands.js";
import { applyCmd, initialState, observe } from "../model/semantic.js";
import { defaultWorld, execStackTop } from "../model/world.js";
import { runSequence } from "../properties/interpreter.js";
import { cmdSchema } from "../properties/report-schema.js";
import { designs, findDesign } from "./designs/index.js";

const anon = (addr: number, len: number): Cmd => ({ op: "mmap", mm: 1, addr, len, kind: "anon", prot: "rw", fixed: true });
const top = execStackTop(defaultWorld);

/** A process with anonymous and file memory, a child, then exec in the parent. */
const setup: Cmd[] = [
  anon(4, 3),
  { op: "write", mm: 1, addr: 5, token: 7 },
  { op: "mmap", mm: 1, addr: 10, len: 2, kind: "shared-file", prot: "rw", fixed: true, file: 0, pgoff: 0 },
  { op: "write", mm: 1, addr: 10, token: 8 },
  { op: "fork", mm: 1, child: 2 },
  { op: "mlock", mm: 1, addr: 4, len: 1 },
];
const execCmd = (args: number[], race?: Race): Cmd => ({ op: "exec", mm: 1, args, ...(race ? { race } : {}) });

describe("exec, sequential", () => {
  it("the model: the old address space is gone, the stack holds the arguments, the child and the file keep theirs", () => {
    let s = initialState(defaultWorld, 1);
    for (const c of [...setup, execCmd([3, 4, 5])]) s = applyCmd(defaultWorld, s, c).state;
    expect(Object.keys(s.mms[1] ?? {}).map(Number)).toEqual([top - 3, top - 2, top - 1]);
    expect([observe(s, 1, top - 3), observe(s, 1, top - 2), observe(s, 1, top - 1)]).toEqual([3, 4, 5]);
    expect(observe(s, 1, 5)).toBe("SIGSEGV");
    expect(observe(s, 2, 5)).toBe(7);
    expect(observe(s, 2, 10)).toBe(8);
    expect(applyCmd(defaultWorld, s, execCmd([])).outcome).toEqual({ kind: "errno", errno: "EINVAL" });
    expect(applyCmd(defaultWorld, s, execCmd([1, 2, 3, 4])).outcome).toEqual({ kind: "errno", errno: "EINVAL" });
  });

  for (const d of designs) {
    it(`${d.name}: exec, then use the new stack, fork and exit, passes every check`, () => {
      for (const n of [1, 2, 3]) {
        const args = Array.from({ length: n }, (_, i) => 20 + i);
        const after: Cmd[] = [
          { op: "read", mm: 1, addr: top - 1 },
          { op: "write", mm: 1, addr: top - n, token: 30 },
          { op: "fork", mm: 1, child: 3 },
          { op: "migrate", mm: 1, addr: top - 1 },
          { op: "swapout", mm: 3, addr: top - 1 },
          { op: "exec", mm: 3, args: [40] },
          { op: "read", mm: 1, addr: top - 1 },
        ];
        const r = runSequence(d, [...setup, execCmd(args), ...after]);
        expect(r.failure?.message, `${n} argument pages`).toBeUndefined();
      }
    });
  }

  it("a report's exec command validates, with and without its race", () => {
    expect(cmdSchema.safeParse(execCmd([1, 2])).success).toBe(true);
    expect(cmdSchema.safeParse(execCmd([1], { walker: "migrate", mm: 1, addr: 31, schedule: [1, 0] })).success).toBe(true);
  });
});

/** Every schedule of `length` steps (bit i of n: who takes step i). */
function* schedules(length: number): Generator<number[]> {
  for (let n = 0; n < 1 << length; n++) yield Array.from({ length }, (_, i) => (n >> i) & 1);
}
/** Enough steps for a two-page move (5 mover steps) and migration's two walks (7 walker steps). */
const scheduleLength = 12;

/** exec of `n` argument pages racing `walker` on the argument page at index `i`. */
const execRace = (n: number, i: number, walker: Race["walker"], schedule: number[]): Cmd[] => [
  anon(4, 1),
  { op: "write", mm: 1, addr: 4, token: 1 },
  execCmd(
    Array.from({ length: n }, (_, j) => 10 + j),
    { walker, mm: 1, addr: defaultWorld.vpnLimit - n + i, schedule },
  ),
  { op: "read", mm: 1, addr: top - n + i },
];

function failing(quirks: string[], n: number, i: number, walker: Race["walker"]): { schedule: number[]; invariant: string }[] {
  const d = findDesign("anon-vma-chain");
  if (!d) throw new Error("anon-vma-chain");
  const out: { schedule: number[]; invariant: string }[] = [];
  for (const s of schedules(scheduleLength)) {
    const r = runSequence(d, execRace(n, i, walker, s), { quirks });
    if (r.failure) out.push({ schedule: s, invariant: r.failure.invariant });
  }
  return out;
}

describe("exec racing an rmap walk (interleaving mode)", () => {
  for (const walker of ["migrate", "referenced"] as const) {
    it(`anon-vma-chain: every schedule of the stack's move against ${walker} keeps I10`, () => {
      for (const [n, i] of [
        [1, 0],
        [3, 1],
      ] as const)
        expect(failing([], n, i, walker)).toEqual([]);
    });
  }

  it("B11 planted back (exec-migrates-temporary-stack): some schedule leaves a migration entry behind (I10), none breaks anything else", () => {
    const bad = failing(["exec-migrates-temporary-stack"], 1, 0, "migrate");
    expect(bad.length).toBeGreaterThan(0);
    expect(new Set(bad.map((b) => b.invariant))).toEqual(new Set(["I10"]));
  });

  it("B11's race is decided by the window between vma_expand and move_page_tables: with the mover first, the bug does not show", () => {
    const d = findDesign("anon-vma-chain");
    if (!d) throw new Error("anon-vma-chain");
    const r = runSequence(d, execRace(1, 0, "migrate", []), { quirks: ["exec-migrates-temporary-stack"] });
    expect(r.failure?.message).toBeUndefined();
  });
});
