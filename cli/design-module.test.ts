/*
 * `--design-module`: a user's designs, from a JavaScript module outside rmapcheck, run like the
 * built-in ones by run (also on worker threads), replay, compare and hunt; a missing or bad
 * module is a one-line usage error (exit 2). The module imports "rmapcheck", resolved through
 * a node_modules link to this checkout (its built dist/, as an installed package would be).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { cli } from "./test-helpers.js";


afterEach(() => {
  process.exitCode = undefined;
});

// A design outside rmapcheck: scan's brute-force walk, written against the public API, with a
// planted mutant that forgets the first mm's PTEs.
const userDesign = `
import { IMmapList, Slab, findVma } from "rmapcheck";
class Brute {
  constructor(k, mutant) { this.k = k; this.mutant = mutant; this.slab = new Slab({}); }
  createIMmap() { return new IMmapList(() => this.k.counters.vmasVisited++); }
  walk(page, visit) {
    for (const mm of this.k.mms.values()) {
      if (this.mutant === "skip-init-mm" && mm.id === 1) continue;
      for (const [addr, pte] of mm.pt) {
        if (pte.kind !== "present" || pte.pfn !== page.pfn) continue;
        const vma = findVma(mm, addr);
        if (vma && !visit(vma, addr)) return;
      }
    }
  }
  mmInit() {} mmFork() {} mmExit() {} vmaLink() {} vmaUnlink() {}
  vmaAdjust(vma, start, end, pgoff) { vma.vmStart = start; vma.vmEnd = end; vma.vmPgoff = pgoff; }
  vmaSplit() {} vmaMerge() {} vmaFork() {} vmaCopy() {}
  anonMergeable() { return true; } hasAnonObject() { return false; } anonPrepare() {}
  pageAddAnon(page, _vma, addr) { page.index = addr; }
  pageAddFile() {} pageDupAtFork() {} pageRemove() {} pageReuse() {}
  pageMove() { return "moved"; } swapinMustCopy() { return false; } pageMigrate() {} pageFree() {}
  check() {}
}
export default {
  name: "brute", era: "test", summary: "a user's brute-force walk",
  mutants: ["skip-init-mm"],
  create: (k, mutant) => new Brute(k, mutant),
};
`;

const dir = mkdtempSync(join(tmpdir(), "rmapcheck-design-module-"));
mkdirSync(join(dir, "node_modules"));
symlinkSync(resolve("."), join(dir, "node_modules", "rmapcheck"), "dir");
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};
const brute = file("brute.js", userDesign);

describe("--design-module", () => {
  it("run: the module's designs by default; a clean one passes (exit 0) with its name in the summary", async () => {
    const r = await cli("run", "--design-module", brute, "--runs", "300", "--seed", "2", "--no-reports");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^brute: 300 runs, \d+ commands .*: ok$/m);
    expect(r.out).not.toMatch(/^scan:/m);
  });

  it("designs lists the module's designs after the built-in ones", async () => {
    const r = await cli("designs", "--design-module", brute);
    expect(r.code).toBe(0);
    expect(r.out.split("\n").at(-1)).toMatch(/^brute\s+test\s+a user's brute-force walk$/);
  });

  it("run on two worker threads loads the module in each worker (the built command)", () => {
    // Worker threads run dist/cli/worker.js, so this runs the built command as a user does.
    const out = execFileSync(process.execPath, ["bin/rmapcheck.js", "run", "--design-module", brute, "--runs", "400", "--seed", "2", "--workers", "2", "--no-reports"], {
      encoding: "utf8",
    });
    expect(out).toMatch(/^brute: 400 runs, \d+ commands .*: ok$/m);
    expect(out).toContain("2 workers");
  });

  it("run finds the module design's mutant, and replay of its report reproduces it (and passes on the fix)", async () => {
    const reports = mkdtempSync(join(tmpdir(), "rmapcheck-dm-reports-"));
    const r = await cli("run", "--design-module", brute, "--design", "brute/skip-init-mm", "--runs", "300", "--seed", "1", "--reports", reports);
    expect(r.code).toBe(1);
    expect(r.out).toContain("I1: ");
    const json = readdirSync(reports).find((f) => f.endsWith(".json")) as string;
    expect(json).toMatch(/^brute~skip-init-mm-I1-/);
    const replay = await cli("replay", "--design-module", brute, "-q", join(reports, json));
    expect(replay.code).toBe(1);
    expect(replay.out).toContain("REPRODUCES: I1");
    const fixed = await cli("replay", "--design-module", brute, "-q", "--design", "brute", join(reports, json));
    expect(fixed.code).toBe(0);
    // Without the module (a fresh process: loaded designs stay registered in this one), the
    // report's design is unknown: a one-line error.
    const without = spawnSync(process.execPath, ["bin/rmapcheck.js", "replay", join(reports, json)], { encoding: "utf8" });
    expect(without.status).toBe(2);
    expect(without.stderr.trim()).toMatch(/^rmapcheck: .*: unknown design 'brute\/skip-init-mm' \(known: [^\n]*\)$/);
  });

  it("compare measures the module's design beside a built-in one", async () => {
    const r = await cli("compare", "--design-module", brute, "brute", "scan", "--workload", "fork-exit-churn", "--scale", "2", "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).map((m: { design: string }) => m.design)).toEqual(["brute", "scan"]);
  });

  it("hunt --mutant DESIGN/MUTANT hunts the module design's mutant, with the design as control", async () => {
    const r = await cli("hunt", "--design-module", brute, "--mutant", "brute/skip-init-mm", "--seeds", "1", "--time-limit", "10", "--json");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out);
    expect(out.mutants[0]).toMatchObject({ mutant: "brute/skip-init-mm", foundIn: 1 });
    expect(out.mutants[0].minimalLength).toBeUndefined();
    expect(out.controls).toEqual([expect.objectContaining({ design: "brute", clean: true })]);
  });

  const bad: [string, string[], RegExp][] = [
    ["a missing module", [join(dir, "absent.js")], /design module .*absent\.js: no such file/],
    ["a module that does not load", [file("syntax.js", "export const = 1;")], /design module .*syntax\.js: cannot be loaded \(/],
    ["a module without designs", [file("empty.js", "export const x = 1;")], /exports no rmapcheck design/],
    [
      "a design without create()",
      [file("nocreate.js", 'export default { name: "x", era: "e", summary: "s", create: 3 };')],
      /export 'default' is not a valid design: create: create must be a function/,
    ],
    [
      "a design named like a built-in",
      [file("clash.js", 'export const d = { name: "scan", era: "e", summary: "s", create() {} };')],
      /design 'scan' has the name of a built-in design/,
    ],
    [
      "a design name with a slash",
      [file("slash.js", 'export const d = { name: "a/b", era: "e", summary: "s", create() {} };')],
      /name: a design name is lowercase letters/,
    ],
  ];
  it.each(bad)("%s is a one-line usage error (exit 2)", async (_name, [path], message) => {
    for (const args of [["run", "--runs", "1"], ["replay", "x.json"], ["compare", "scan"], ["hunt", "--seeds", "1"]]) {
      const [command, ...rest] = args as [string, ...string[]];
      const r = await cli(command, "--design-module", path as string, ...rest);
      expect(r.code, command).toBe(2);
      expect(r.err, command).toMatch(message);
      expect(r.err.split("\n"), command).toHaveLength(1);
    }
  });
});
