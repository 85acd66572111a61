/*
 * `rmapcheck conform` (conform/conform.ts): the restrictions that keep a command from both
 * sides, a short conformance pass against the real host, and planted disagreements that the
 * comparison must find, shrink, and attribute to the right side. Host tests are skipped (with
 * the reason in the title) where the executor cannot run: not Linux, no C compiler, or PFNs
 * hidden from pagemap.
 */
import { describe, expect, it, vi } from "vitest";
import { type Cmd, cmdToString, sameOutcome } from "../model/commands.js";
import { observe } from "../model/semantic.js";
import { scan } from "../impl/designs/scan.js";
import { Session } from "../properties/interpreter.js";
import { type HostRewrite, checkConformance, conformWorld, hostFaithful, runCommands } from "./conform.js";
import { buildExecutor, hostSupport } from "./host.js";

buildExecutor({ ifStale: true }); // from a clean clone: nothing built yet
const support = hostSupport();
const noHost = !support.ok;
const reason = support.ok ? "" : ` [skipped: ${support.why}]`;

const anon = (addr: number, len: number, prot: "r" | "rw" = "rw"): Cmd => ({ op: "mmap", mm: 1, addr, len, kind: "anon", prot, fixed: true });
const file = (addr: number, len: number, kind: "shared-file" | "private-file", pgoff: number): Cmd => ({
  op: "mmap",
  mm: 1,
  addr,
  len,
  kind,
  prot: "rw",
  fixed: true,
  file: 0,
  pgoff,
});

/** A scan session after `setup`, asked about `cmd`. */
function verdict(setup: Cmd[], cmd: Cmd) {
  const s = new Session(scan, { world: conformWorld });
  for (const c of setup) s.apply(c);
  return hostFaithful(s, cmd);
}

describe("conform: which commands the host runs faithfully (scan)", () => {
  it("scan: mprotect over a partial hole is kept from both sides; over a fully unmapped range it runs", () => {
    //   mm1  0x2 [AA]    mprotect(0x1+3) meets the hole at 0x1: Linux changes 0x2-0x3 anyway
    expect(verdict([anon(2, 2)], { op: "mprotect", mm: 1, addr: 1, len: 3, prot: "r" })).toEqual({ skip: "partial-hole" });
    expect(verdict([anon(2, 2)], { op: "mprotect", mm: 1, addr: 8, len: 2, prot: "r" })).toEqual({ run: [{ op: "mprotect", mm: 1, addr: 8, len: 2, prot: "r" }] });
  });

  it("scan: mlock of a COW-shared page is preceded by the write Linux's populate makes", () => {
    //   mm1  0x1 [A]   X written, then fork: X shared; mlock(mm2) write-faults X → its own copy
    //   mm2  0x1 [A]   0x2 never written: populate gives it a zeroed page
    const setup: Cmd[] = [anon(1, 2), { op: "write", mm: 1, addr: 1, token: 7 }, { op: "fork", mm: 1, child: 2 }];
    const mlock: Cmd = { op: "mlock", mm: 2, addr: 1, len: 2 };
    expect(verdict(setup, mlock)).toEqual({
      run: [{ op: "write", mm: 2, addr: 1, token: 7 }, { op: "write", mm: 2, addr: 2, token: 0 }, mlock],
    });
  });

  it("scan: mlock over a page past the end of its file is kept (Linux: ENOMEM from populate)", () => {
    expect(verdict([file(1, 2, "shared-file", 7)], { op: "mlock", mm: 1, addr: 1, len: 2 })).toEqual({ skip: "mlock-sigbus" });
  });

  it("scan: growing a 2-page range of a private vma is kept (Linux may have a vma boundary scan merged away)", () => {
    const grow = (len: number): Cmd => ({ op: "mremap", mm: 1, addr: 1, len, newLen: len + 1, maymove: true, fixed: false });
    expect(verdict([anon(1, 3)], grow(2))).toEqual({ skip: "mremap-layout" });
    expect(verdict([anon(1, 3)], grow(1))).toEqual({ run: [grow(1)] });
  });

  it("scan: MAP_FIXED below mmapBase and swap-out are kept from both sides", () => {
    expect(verdict([], { ...anon(0, 1) })).toEqual({ skip: "below-mmap-base" });
    expect(verdict([anon(1, 1)], { op: "swapout", mm: 1, addr: 1 })).toEqual({ skip: "invisible" });
  });
});

/** Planted: the host stores every written token plus one. */
const offByOne: HostRewrite = (sim) => ({
  cmds: sim.commands.map((c) => (c.op === "write" ? { ...c, token: c.token + 1 } : c)),
  origin: sim.commands.map((_, i) => i),
});

/** Planted: after every fork the host's child writes back each private page it shares (COW broken, values unchanged). */
const breakCowAfterFork: HostRewrite = (sim) => {
  const cmds: Cmd[] = [];
  const origin: number[] = [];
  sim.commands.forEach((c, i) => {
    cmds.push(c);
    origin.push(i);
    const step = sim.steps[i];
    if (c.op !== "fork" || !step) return;
    for (const key of step.sharing.anon.keys()) {
      const m = /^mm(\d+):0x([0-9a-f]+)$/.exec(key);
      const addr = Number.parseInt(m?.[2] ?? "", 16);
      if (Number(m?.[1]) !== c.child || step.state.mms[c.child]?.[addr]?.prot !== "rw") continue;
      cmds.push({ op: "write", mm: c.child, addr, token: observe(step.state, c.child, addr) as number });
      origin.push(-1);
    }
  });
  return { cmds, origin };
};

const small = { design: scan, seed: 1, runs: 200, maxCommands: 20, shrinkRuns: 100, minimizeRuns: 100 };

describe("conform: model, simulated kernel and host agree", () => {
  it.skipIf(noHost)(`scan: 30 random sequences agree with the host, sharing included (seed 7)${reason}`, () => {
    const r = checkConformance({ design: scan, seed: 7, runs: 30 });
    const cx = r.counterexample;
    expect(r.ok, cx && `${cx.disagreement.message}\n${cx.commands.map(cmdToString).join("\n")}`).toBe(true);
    expect(r.runs).toBe(30);
    // Not vacuous: shared anonymous frames and written shared-file pages were compared.
    expect(r.compared.sharedAnonFrames).toBeGreaterThan(0);
    expect(r.compared.dirtySharedPages).toBeGreaterThan(0);
  });
});

describe("conform: a planted disagreement is found, shrunk and attributed", () => {
  it.skipIf(noHost)(`scan: a host that stores token+1 is caught by a read, shrunk to 3 commands${reason}`, () => {
    const r = checkConformance({ ...small, hostRewrite: offByOne });
    const cx = r.counterexample;
    expect(r.ok).toBe(false);
    expect(cx?.disagreement.kind).toBe("outcome");
    expect(cx?.commands.map((c) => c.op)).toEqual(["mmap", "write", "read"]);
    expect(cx?.disagreement.expected).toMatch(/^model and simulated kernel: = \d+$/);
    expect(cx?.disagreement.actual).toMatch(/^host: = \d+$/);
    expect(cx?.essential).toEqual([0, 1, 2]);
  });

  it.skipIf(noHost)(`scan: a COW break only the host makes is caught by the sharing comparison alone${reason}`, () => {
    // Why this test? Every value stays the same, so only the frame comparison can see it.
    const r = checkConformance({ ...small, hostRewrite: breakCowAfterFork });
    const cx = r.counterexample;
    expect(cx?.disagreement.kind).toBe("sharing");
    expect(cx?.commands.map((c) => c.op)).toEqual(["mmap", "write", "fork"]);
    expect(cx?.trace.every((t) => t.host !== undefined && sameOutcome(t.host, t.kernel))).toBe(true);
    expect(cx?.disagreement.message).toMatch(/share one frame in the simulated kernel, but mm1:0x[0-9a-f]+ has a frame of its own on the host/);
    expect(cx?.disagreement.expected).toMatch(/mapcount 2/);
    expect(cx?.disagreement.actual).toMatch(/^host: mm1:0x[0-9a-f]+ → pfn \d+ \(mapcount 1\), mm\d+:0x[0-9a-f]+ → pfn \d+ \(mapcount 1\)$/);
  });

  it.skipIf(noHost)(`scan with kernel quirk merge-next-keeps-pgoff: the host sides with the model${reason}`, () => {
    //   mm1  0x1 [FF]   shared file0@0, then MAP_FIXED file0@0 over 0x1: merges with next,
    //                   which (the quirk) keeps pgoff 1, so 0x1 shows file page 1
    const cmds: Cmd[] = [file(1, 2, "shared-file", 0), file(1, 1, "shared-file", 0)];
    const v = runCommands(cmds, { design: scan, quirks: ["merge-next-keeps-pgoff"] });
    expect(v.disagreement).toMatchObject({
      kind: "simulation",
      step: 1,
      invariant: "SEMANTIC",
      expected: "model and host: -1000",
      actual: "simulated kernel: -1001",
    });
  });
});

describe("conform: the command line", () => {
  it.skipIf(noHost)(`conform --json: 5 runs agree, exit 0${reason}`, async () => {
    const { conformCommand } = await import("../cli/conform.js");
    const out: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((...a) => void out.push(a.join(" ")));
    try {
      const code = await conformCommand({ runs: 5, seed: 3, maxCommands: 30, swarm: true, json: true });
      expect(code).toBe(0);
      expect(JSON.parse(out.join("\n"))).toMatchObject({ design: "scan", seed: 3, runs: 5, ok: true });
    } finally {
      log.mockRestore();
    }
  });

  it("conform on a host without the executor: a one-line usage error (exit 2 in main)", async () => {
    vi.resetModules();
    vi.doMock("./host.js", async (original) => ({
      ...(await original<typeof import("./host.js")>()),
      buildExecutor: () => {},
      hostSupport: () => ({ ok: false, why: "host is darwin, not Linux" }),
    }));
    try {
      const { conformCommand } = await import("../cli/conform.js");
      const run = conformCommand({ runs: 5, seed: 3, maxCommands: 30, swarm: true, json: false });
      await expect(run).rejects.toThrow(/^conform needs the host executor, which cannot run here: host is darwin, not Linux$/);
    } finally {
      vi.doUnmock("./host.js");
      vi.resetModules();
    }
  });
});
