/*
 * Known-answer checks of the host executor itself: before trusting it to judge the model,
 * check it reports what Linux is known to do. Skipped (with the reason in the test name)
 * where the host cannot run it: not Linux, no C compiler, or PFNs hidden from pagemap.
 */
import { describe, expect, it } from "vitest";
import type { Cmd, Outcome } from "../model/commands.js";
import { defaultWorld, initialFileToken } from "../model/world.js";
import { buildExecutor, frameSharing, hostSupport, pageAt, runOnHost } from "./host.js";

buildExecutor({ ifStale: true }); // from a clean clone: nothing built yet
const support = hostSupport();
const unsupported = !support.ok;
const reason = support.ok ? "" : ` [skipped: ${support.why}]`;
const world = defaultWorld;

const ok: Outcome = { kind: "ok" };
const addr = (a: number): Outcome => ({ kind: "addr", addr: a });
const value = (v: number): Outcome => ({ kind: "value", value: v });
const SIGSEGV: Outcome = { kind: "signal", signal: "SIGSEGV" };
const SIGBUS: Outcome = { kind: "signal", signal: "SIGBUS" };

const anon = (mm: number, a: number, len: number, fixed = false): Cmd => ({
  op: "mmap",
  mm,
  addr: a,
  len,
  kind: "anon",
  prot: "rw",
  fixed,
});

describe("host executor", () => {
  it.skipIf(unsupported)(`fork shares a private anon frame until one side writes${reason}`, () => {
    const cmds: Cmd[] = [
      anon(1, 3, 1),
      { op: "write", mm: 1, addr: 3, token: 77 },
      { op: "fork", mm: 1, child: 2 },
      { op: "write", mm: 2, addr: 3, token: 88 },
      { op: "read", mm: 1, addr: 3 },
      { op: "read", mm: 2, addr: 3 },
    ];
    const run = runOnHost(cmds, world, { snapshotEvery: true });
    expect(run.outcomes).toEqual([addr(3), ok, ok, ok, value(77), value(88)]);

    const afterFork = run.snapshots.find((s) => s.afterCmd === 2);
    expect(afterFork).toBeDefined();
    if (!afterFork) return;
    const p1 = pageAt(afterFork, 1, 3);
    const p2 = pageAt(afterFork, 2, 3);
    expect(p1?.present && p2?.present).toBe(true);
    expect(p1?.pfn).toBe(p2?.pfn);
    expect(p1?.mapcount).toBe(2);
    expect(p2?.mapcount).toBe(2);
    expect(frameSharing(afterFork)).toEqual([
      [
        { mm: 1, vpn: 3 },
        { mm: 2, vpn: 3 },
      ],
    ]);

    const q1 = pageAt(run.final, 1, 3);
    const q2 = pageAt(run.final, 2, 3);
    expect(q1?.pfn).not.toBe(q2?.pfn);
    expect(q1?.mapcount).toBe(1);
    expect(q2?.mapcount).toBe(1);
  });

  it.skipIf(unsupported)(`mremap moves a partly written anon range; the old range faults${reason}`, () => {
    const cmds: Cmd[] = [
      anon(1, 2, 4),
      { op: "write", mm: 1, addr: 2, token: 11 },
      { op: "write", mm: 1, addr: 4, token: 13 },
      { op: "mmap", mm: 1, addr: 6, len: 1, kind: "anon", prot: "r", fixed: false }, // blocks growth
      // Must move; lowest gap of 8 with the old range [2,6) still occupied is 7.
      { op: "mremap", mm: 1, addr: 2, len: 4, newLen: 8, maymove: true, fixed: false },
      { op: "read", mm: 1, addr: 7 },
      { op: "read", mm: 1, addr: 8 },
      { op: "read", mm: 1, addr: 9 },
      { op: "read", mm: 1, addr: 2 },
      { op: "read", mm: 1, addr: 4 },
      // Without MAYMOVE, growing past the end of the world fails.
      { op: "mremap", mm: 1, addr: 7, len: 8, newLen: 30, maymove: false, fixed: false },
      { op: "mremap", mm: 1, addr: 7, len: 8, newLen: 8, maymove: true, fixed: true, newAddr: 20 },
      { op: "read", mm: 1, addr: 22 },
      { op: "read", mm: 1, addr: 9 },
    ];
    const run = runOnHost(cmds, world);
    expect(run.outcomes).toEqual([
      addr(2),
      ok,
      ok,
      addr(6),
      addr(7),
      value(11),
      value(0),
      value(13),
      SIGSEGV,
      SIGSEGV,
      { kind: "errno", errno: "ENOMEM" },
      addr(20),
      value(13),
      SIGSEGV,
    ]);
    expect(run.final.pages.filter((p) => p.mm === 1).map((p) => p.vpn)).toEqual([6, 20, 21, 22, 23, 24, 25, 26, 27]);
  });

  it.skipIf(unsupported)(`truncate: shared and private-COW pages past the end give SIGBUS${reason}`, () => {
    const cmds: Cmd[] = [
      { op: "mmap", mm: 1, addr: 1, len: 8, kind: "shared-file", prot: "rw", fixed: false, file: 0, pgoff: 0 },
      { op: "mmap", mm: 1, addr: 10, len: 8, kind: "private-file", prot: "rw", fixed: false, file: 0, pgoff: 0 },
      { op: "read", mm: 1, addr: 5 },
      { op: "write", mm: 1, addr: 15, token: 555 }, // private COW copy of pgoff 5
      { op: "read", mm: 1, addr: 15 },
      { op: "truncate", file: 0, size: 3 },
      { op: "read", mm: 1, addr: 3 }, // pgoff 2: still inside
      { op: "read", mm: 1, addr: 5 }, // pgoff 4: past the end
      { op: "read", mm: 1, addr: 15 }, // the COW copy is gone too
      { op: "write", mm: 1, addr: 14, token: 1 },
    ];
    const run = runOnHost(cmds, world);
    expect(run.outcomes).toEqual([
      addr(1),
      addr(10),
      value(initialFileToken(0, 4)),
      ok,
      value(555),
      ok,
      value(initialFileToken(0, 2)),
      SIGBUS,
      SIGBUS,
      SIGBUS,
    ]);
  });

  it.skipIf(unsupported)(`madvise(DONTNEED): private anon reads 0, private file reads the file again${reason}`, () => {
    const cmds: Cmd[] = [
      anon(1, 1, 2),
      { op: "write", mm: 1, addr: 1, token: 9 },
      { op: "madvise", mm: 1, addr: 1, len: 2, advice: "dontneed" },
      { op: "read", mm: 1, addr: 1 },
      { op: "mmap", mm: 1, addr: 10, len: 4, kind: "private-file", prot: "rw", fixed: false, file: 1, pgoff: 2 },
      { op: "write", mm: 1, addr: 11, token: 77 },
      { op: "read", mm: 1, addr: 11 },
      { op: "madvise", mm: 1, addr: 10, len: 4, advice: "dontneed" },
      { op: "read", mm: 1, addr: 11 },
    ];
    const run = runOnHost(cmds, world);
    expect(run.outcomes).toEqual([
      addr(1),
      ok,
      ok,
      value(0),
      addr(10),
      ok,
      value(77),
      ok,
      value(initialFileToken(1, 3)),
    ]);
  });

  it.skipIf(unsupported)(`address choice follows rmapcheck's rule; unknown mms skip${reason}`, () => {
    const cmds: Cmd[] = [
      anon(1, 5, 2), // free hint: taken
      anon(1, 6, 2), // hint overlaps: lowest gap from mmapBase
      anon(1, 0, 1), // hint below mmapBase: lowest gap
      anon(1, 0, 1, true), // fixed at page 0 is allowed
      anon(1, 1, world.vpnLimit), // cannot fit
      { op: "read", mm: 7, addr: 1 },
      { op: "fork", mm: 1, child: 2 },
      { op: "exit", mm: 1 },
      { op: "read", mm: 1, addr: 5 },
      { op: "reclaim", pages: 3 },
    ];
    const run = runOnHost(cmds, world);
    expect(run.outcomes.slice(0, 5)).toEqual([addr(5), addr(1), addr(3), addr(0), { kind: "errno", errno: "ENOMEM" }]);
    expect(run.outcomes[5]?.kind).toBe("skip");
    expect(run.outcomes.slice(6, 8)).toEqual([ok, ok]);
    expect(run.outcomes[8]?.kind).toBe("skip");
    expect(run.outcomes[9]).toEqual({ kind: "internal", what: "skipped-on-host" });
    // Only mm2 is left, with the mappings it inherited.
    expect(new Set(run.final.pages.map((p) => p.mm))).toEqual(new Set([2]));
    expect(run.final.pages.map((p) => p.vpn)).toEqual([0, 1, 2, 3, 5, 6]);
  });
});
