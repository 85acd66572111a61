/*
 * The library's runner and its vitest matcher, on a built-in design and its planted bug
 * (scan/skip-newest-mm: the walk forgets the newest mm, so I1 once a child maps a page).
 * examples/own-design does the same from outside, through the packed package.
 */
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { main } from "../cli/main.js";
import { scan } from "../impl/designs/scan.js";
import { cmdToString } from "../model/commands.js";
import { reportSchema } from "../properties/report-schema.js";
import { checkDesign, formatResult, writeShrinkReport } from "./check.js";
import { PlanFailure, assertPlan, plans } from "./plans.js";
import "./vitest.js";

const broken = () => checkDesign({ design: scan, mutant: "skip-newest-mm", runs: 200, seed: 3 });

describe("checkDesign (library)", () => {
  it("a correct design passes and its result has no report", () => {
    const r = checkDesign({ design: scan, runs: 100, seed: 1 });
    expect(r).toMatchObject({ ok: true, design: "scan", seed: 1, runs: 100 });
    expect(r.report).toBeUndefined();
    expect(r).toPass();
  });

  it("draws and reports a seed when none is given", () => {
    const r = checkDesign({ design: scan, runs: 5 });
    expect(Number.isInteger(r.seed)).toBe(true);
    expect(formatResult(r)).toBe(`scan: seed ${r.seed}, 5 runs, ${r.commands} commands: ok`);
  });

  it("a planted bug fails with a valid shrink report of the minimal sequence", () => {
    const r = broken();
    expect(r.ok).toBe(false);
    // The newest mm (the child) faults in a file page; the mutant's walk never looks at it.
    expect(r.counterexample?.commands.map(cmdToString)).toEqual(["mmap(mm1, 0x1+1, r, PRIVATE|FIXED, file0@0)", "fork(mm1) → mm2", "read(mm2, 0x1)"]);
    expect(reportSchema.parse(r.report)).toMatchObject({ design: "scan", mutant: "skip-newest-mm", invariant: "I1", found: { seed: 3, runs: 200 } });
    expect(r).not.toPass();
  });

  it("is the same campaign as `rmapcheck run --seed S --runs N`: same chunk, same counterexample", async () => {
    const lines: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((...a) => void lines.push(a.join(" ")));
    try {
      expect(await main(["run", "--design", "scan/skip-newest-mm", "--seed", "3", "--runs", "200", "--json", "--no-reports"])).toBe(1);
    } finally {
      log.mockRestore();
      process.exitCode = undefined;
    }
    const cli = JSON.parse(lines.join("\n")).failure;
    const r = broken();
    expect(r.chunk).toBe(cli.chunk);
    expect(r.report?.found.chunk).toBe(cli.chunk);
    expect(r.counterexample?.commands).toEqual(cli.commands);
    expect(r.counterexample?.runsToFailure).toBe(cli.runsToFailure);
  });

  it("toPass() fails with the seed, the shrunk sequence and the written report", () => {
    const dir = mkdtempSync(join(tmpdir(), "rmapcheck-topass-"));
    const r = broken();
    let message = "";
    try {
      expect(r).toPass({ reports: dir });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^scan\/skip-newest-mm: seed 3, \d+ runs, \d+ commands: COUNTEREXAMPLE\n {2}I1: /);
    expect(message).toMatch(/fork\(mm1\) +→ mm2/);
    expect(message).toMatch(/shrink report written: .*scan~skip-newest-mm-I1-[0-9a-f]{8}\.json\nreplay it: rmapcheck replay /);
    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(2);
    expect(readFileSync(join(dir, files[1] as string), "utf8")).toContain("**Why this matters.** I1");
    // The same counterexample again: recorded once.
    expect(writeShrinkReport(broken(), dir)?.fresh).toBe(false);
  });

  it("toPass({ reports: false }) writes nothing; .not.toPass() on a passing design fails", () => {
    expect(() => expect(broken()).toPass({ reports: false })).toThrow(/COUNTEREXAMPLE/);
    expect(() => expect(checkDesign({ design: scan, runs: 10, seed: 1 })).not.toPass()).toThrow(/expected scan to fail, but it passed 10 runs \(seed 1\)/);
    expect(() => expect({ ok: true }).toPass()).toThrow(/expects the result of rmapcheck's checkDesign/);
  });
});

describe("plans() and assertPlan() for fast-check's runners", () => {
  it("a correct design holds on every plan", () => {
    fc.assert(
      fc.property(plans({ maxCommands: 30 }), (plan) => assertPlan(scan, plan)),
      { seed: 1, numRuns: 50 },
    );
  });

  it("a planted bug throws a PlanFailure naming the invariant and the syscalls", () => {
    const out = fc.check(
      fc.property(plans(), (plan) => assertPlan(scan, plan, { mutant: "skip-newest-mm" })),
      { seed: 1, numRuns: 200 },
    );
    expect(out.failed).toBe(true);
    const err = out.errorInstance as PlanFailure;
    expect(err).toBeInstanceOf(PlanFailure);
    expect(err.failure.invariant).toBe("I1");
    expect(err.message).toMatch(/^scan\/skip-newest-mm: I1: /);
    expect(err.message).toMatch(/fork\(mm\d\) → mm\d/);
  });
});
