/*
 * The example design checked from its own package, the way a user's CI would: the correct
 * pte-set must hold (with rmapcheck's runner and with @fast-check/vitest's test.prop), and the
 * subtly broken pte-set-per-mm must be caught, with the exact shrunk counterexample.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fc, test as fcTest } from "@fast-check/vitest";
import { type CheckResult, assertPlan, checkDesign, cmdToString, plans, requiredMarks } from "rmapcheck";
import "rmapcheck/vitest";
import { describe, expect, test } from "vitest";
import { pteSet, pteSetPerMm } from "../src/pte-set.js";

const scratch = () => mkdtempSync(join(tmpdir(), "own-design-"));

describe("pte-set (correct)", () => {
  test("holds on 1000 random sequences and reaches every coverage mark", () => {
    const r = checkDesign({ design: pteSet, runs: 1000, seed: 1 });
    expect(r).toPass();
    for (const mark of requiredMarks) expect(r.coverage[mark], mark).toBeGreaterThan(0);
  });

  // The same property, one plan at a time, under fast-check's own runner.
  fcTest.prop([plans()], { numRuns: 200, seed: 1 })("holds under @fast-check/vitest's test.prop", (plan) => {
    assertPlan(pteSet, plan);
  });

  test("its planted mutant no-move-on-mremap is caught (I1 after an mremap)", () => {
    const r = checkDesign({ design: pteSet, mutant: "no-move-on-mremap", runs: 1000, seed: 1 });
    expect(r).not.toPass();
    expect(r.counterexample?.failure.invariant).toBe("I1");
    expect(r.counterexample?.commands.at(-1)?.op).toBe("mremap");
  });
});

describe("pte-set-per-mm (subtly broken) is caught", () => {
  let result: CheckResult | undefined;
  const broken = () => {
    result ??= checkDesign({ design: pteSetPerMm, runs: 1000, seed: 1 });
    return result;
  };

  test("checkDesign finds it and shrinks it to one mm mapping a file page twice", () => {
    const r = broken();
    expect(r).not.toPass();
    expect(r.counterexample?.failure.invariant).toBe("I1");
    expect(r.counterexample?.commands.map(cmdToString)).toEqual(EXPECTED_SHRUNK);
    expect(r.report?.invariant).toBe("I1");
    expect(r.report?.commands).toEqual(r.counterexample?.commands);
  });

  test("toPass() fails with the shrunk sequence and writes the shrink report", () => {
    const dir = scratch();
    let message = "";
    try {
      expect(broken()).toPass({ reports: dir });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/pte-set-per-mm: seed 1, \d+ runs, \d+ commands: COUNTEREXAMPLE/);
    expect(message).toContain("I1: page pfn");
    for (const line of EXPECTED_SHRUNK) expect(message).toContain(line);
    expect(message).toMatch(/shrink report written: .*pte-set-per-mm-I1-[0-9a-f]{8}\.json/);
    expect(readdirSync(dir).sort()).toEqual([expect.stringMatching(/\.json$/), expect.stringMatching(/\.md$/)]);
  });

  test("fast-check's runner with assertPlan finds it too", () => {
    const out = fc.check(
      fc.property(plans(), (plan) => {
        assertPlan(pteSetPerMm, plan);
      }),
      { numRuns: 1000, seed: 1 },
    );
    expect(out.failed).toBe(true);
    expect(String(out.errorInstance)).toMatch(/pte-set-per-mm: I1: /);
  });
});

describe("the installed rmapcheck command with --design-module", () => {
  const pkg = dirname(createRequire(import.meta.url).resolve("rmapcheck/package.json"));
  const rmapcheck = (...args: string[]) => {
    try {
      return { code: 0, out: execFileSync(process.execPath, [join(pkg, "bin", "rmapcheck.js"), ...args], { encoding: "utf8", stdio: "pipe" }) };
    } catch (e) {
      const err = e as { status: number; stdout: string; stderr: string };
      return { code: err.status, out: `${err.stdout}${err.stderr}` };
    }
  };

  test("run passes pte-set, catches pte-set-per-mm (exit 1), and the report replays", () => {
    const dir = scratch();
    const junit = join(dir, "junit.xml");
    const run = rmapcheck("run", "--design-module", "./src/pte-set.js", "--runs", "1000", "--seed", "1", "--reports", dir, "--junit", junit);
    expect(run.code).toBe(1);
    expect(run.out).toMatch(/^pte-set: 1000 runs, .*: ok$/m);
    expect(run.out).toMatch(/^pte-set-per-mm: .*: COUNTEREXAMPLE$/m);
    const report = readdirSync(dir).find((f) => f.endsWith(".json")) as string;
    const replay = rmapcheck("replay", "--design-module", "./src/pte-set.js", "-q", join(dir, report));
    expect(replay.code).toBe(1);
    expect(replay.out).toContain("REPRODUCES: I1");
    // The fix: the same sequence against the correct design.
    const fixed = rmapcheck("replay", "--design-module", "./src/pte-set.js", "-q", "--design", "pte-set", join(dir, report));
    expect(fixed.code).toBe(0);
  });

  test("a module without designs is a one-line usage error (exit 2)", () => {
    const r = rmapcheck("run", "--design-module", "./package.json");
    expect(r.code).toBe(2);
    expect(r.out.trim().split("\n")).toHaveLength(1);
  });
});

/** Page 1 of file1 mapped by mm1 at 0x2 (inside the first mmap) and at 0x4: the second entry replaces the first. */
const EXPECTED_SHRUNK = [
  "mmap(mm1, 0x1+3, rw, PRIVATE|FIXED, file1@0)",
  "mmap(mm1, 0x4+1, rw, PRIVATE|FIXED, file1@1)",
  "read(mm1, 0x2)",
  "read(mm1, 0x4)",
];
