/*
 * The command line as a user meets it: exit codes 0/1/2, one-line errors, reports that
 * replay. Runs main() in-process with console output captured.
 */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { DesignInfo } from "../impl/design.js";
import { findDesign } from "../impl/designs/index.js";
import { buildTimeline } from "../properties/timeline.js";
import { cli } from "./test-helpers.js";
import { loadReport } from "./reports.js";


afterEach(() => {
  process.exitCode = undefined;
});

describe("rmapcheck CLI", () => {
  it("designs: lists every design with era and summary", async () => {
    const r = await cli("designs");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^scan\s+2\.4\s+no reverse map/m);
  });

  it("run: a clean design exits 0 and prints the seed and the commands executed", async () => {
    const r = await cli("run", "--design", "scan", "--runs", "50", "--seed", "1", "--no-reports");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/seed 1/);
    expect(r.out).toMatch(/summary: 1 design\(s\), 0 failed; 50 runs, \d+ commands executed/);
  });

  it("run --json: one object with design, seed, runs, commands, ok", async () => {
    const r = await cli("run", "--design", "scan", "--runs", "20", "--seed", "5", "--json", "--no-reports");
    const obj = JSON.parse(r.out);
    expect(obj).toMatchObject({ design: "scan", seed: 5, runs: 20, ok: true });
    expect(obj.commands).toBeGreaterThan(0);
  });

  it.each([
    [["run", "--design", "nosuch"], /unknown design 'nosuch'/],
    [["run", "--runs", "-3"], /--runs must be a positive integer/],
    [["run", "--seed", "x"], /seed must be an integer/],
    [["run", "--frobnicate"], /unknown option '--frobnicate'/],
    [["run", "--design", "scan/nosuch"], /has no mutant 'nosuch'/],
    [["run", "--fail-alloc", "2"], /--fail-alloc must be a probability in \(0, 1\]/],
    [["run", "--fail-alloc", "x"], /--fail-alloc must be a probability/],
    [["nosuchcommand"], /unknown command/],
  ])("bad usage %j exits 2 with one line", async (args, message) => {
    const r = await cli(...(args as string[]));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err.split("\n")).toHaveLength(1);
  });

  it("a kernel quirk of the catalogue runs as DESIGN+QUIRK: B11's race is found, and its report keeps the quirk and replays", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rmapcheck-"));
    const run = await cli("run", "--design", "anon-vma-chain+exec-migrates-temporary-stack", "--interleave", "1", "--runs", "200", "--seed", "1", "--reports", dir);
    expect(run.code).toBe(1);
    expect(run.out).toContain("I10");
    const json = readdirSync(dir).find((f) => f.endsWith(".json")) as string;
    expect(JSON.parse(readFileSync(join(dir, json), "utf8")).quirks).toEqual(["exec-migrates-temporary-stack"]);
    expect((await cli("replay", join(dir, json))).code).toBe(1);
    const bad = await cli("run", "--design", "anon-vma-chain+no-such-quirk");
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/unknown design 'anon-vma-chain\+no-such-quirk'/);
  });

  it("a planted bug found by run leaves a .json and .md that replay (exit 1), and replay against the fixed design exits 0", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rmapcheck-"));
    const run = await cli("run", "--design", "scan/skip-newest-mm", "--runs", "200", "--seed", "3", "--reports", dir);
    expect(run.code).toBe(1);
    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(2);
    expect(files[0]).toMatch(/^scan~skip-newest-mm-I1-[0-9a-f]{8}\.json$/);
    expect(files[1]).toMatch(/\.md$/);
    expect(run.out).toContain(join(dir, files[0] as string));
    const md = readFileSync(join(dir, files[1] as string), "utf8");
    expect(md).toContain("**Why this matters.** I1");
    expect(md).toContain("the design's walk found");
    const json = join(dir, files[0] as string);
    // The report carries its step-by-step record (what rmapcheck view draws), equal to a replay.
    const written = JSON.parse(readFileSync(json, "utf8"));
    const replayed = buildTimeline(loadReport(json), findDesign("scan") as DesignInfo, "skip-newest-mm");
    expect(written.timeline.frames).toHaveLength(replayed.frames.length);
    expect(written.timeline).toEqual(JSON.parse(JSON.stringify(replayed)));
    expect(written.timeline.frames[written.timeline.failingFrame].violation.invariant).toBe("I1");
    const replay = await cli("replay", json);
    expect(replay.code).toBe(1);
    expect(replay.out).toContain("REPRODUCES: I1");
    expect(replay.out).toMatch(/fork\(mm1\) → mm2/);
    const fixed = await cli("replay", json, "--design", "scan");
    expect(fixed.code).toBe(0);
    expect(fixed.out).toContain("does not reproduce");
    // Running again finds the same counterexample and does not overwrite it.
    const again = await cli("run", "--design", "scan/skip-newest-mm", "--runs", "200", "--seed", "3", "--reports", dir);
    expect(again.out).toContain("already recorded");
    expect(readdirSync(dir)).toHaveLength(2);
  });

  it("run --fail-alloc: an error-path bug's report keeps its failure point as data and replays", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rmapcheck-fail-"));
    const run = await cli("run", "--design", "anon-vma-chain-3.19/b2-clone-error-keeps-anon-vma", "--fail-alloc", "0.3", "--runs", "300", "--seed", "1", "--reports", dir);
    expect(run.code).toBe(1);
    expect(run.out).toMatch(/allocation failures 0\.3/);
    expect(run.out).toMatch(/with the 2nd allocation failing +→ -ENOMEM +✗ I8/);
    const json = readdirSync(dir).find((f) => f.endsWith(".json")) as string;
    const report = JSON.parse(readFileSync(join(dir, json), "utf8"));
    expect(report.found.failAlloc).toBe(0.3);
    expect(report.commands.some((c: { failAlloc?: number }) => c.failAlloc === 2)).toBe(true);
    const md = readFileSync(join(dir, json.replace(/\.json$/, ".md")), "utf8");
    expect(md).toContain("--fail-alloc 0.3");
    const replay = await cli("replay", join(dir, json));
    expect(replay.code).toBe(1);
    expect(replay.out).toContain("REPRODUCES: I8");
    const fixed = await cli("replay", join(dir, json), "--design", "anon-vma-chain-3.19");
    expect(fixed.code).toBe(0);
  });

  describe("replay of bad input exits 2 with one line", () => {
    const dir = mkdtempSync(join(tmpdir(), "rmapcheck-bad-"));
    const good = {
      schema: "rmapcheck-shrink-report",
      version: 1,
      harness: { name: "rmapcheck", version: "0.1.0" },
      design: "scan",
      found: { seed: 1, runs: 1, maxCommands: 60, swarm: true, runsToFailure: 1, commandsToFailure: 3, foundLength: 3 },
      world: { vpnLimit: 32, mmapBase: 1, fileCount: 2, fileInitialPages: 8, fileMaxPages: 12, frameCount: 12, mmLiveMax: 6 },
      commands: [{ op: "mmap", mm: 1, addr: 1, len: 1, kind: "anon", prot: "rw", fixed: true }],
      failingStep: 0,
      invariant: "I1",
      message: "m",
      essential: [0],
      expect: "pass",
    };
    const cases: [string, string, RegExp][] = [
      ["missing file", join(dir, "absent.json"), /cannot read \(no such file\)/],
      ["malformed JSON", "{ nope", /not valid JSON/],
      ["a newer schema version", JSON.stringify({ ...good, version: 2 }), /version 2 was written by a newer rmapcheck \(this one reads versions up to 1\); upgrade rmapcheck/],
      ["an older schema version without a migration", JSON.stringify({ ...good, version: 0 }), /version 0 is too old: no migration from version 0 to 1/],
      ["unknown design", JSON.stringify({ ...good, design: "zzz" }), /unknown design 'zzz'/],
      ["invalid command", JSON.stringify({ ...good, commands: [{ op: "mmap", mm: -1 }] }), /invalid shrink report at commands\.0/],
      ["not a report", JSON.stringify({ hello: 1 }), /not a rmapcheck shrink report/],
    ];
    for (const [name, content, message] of cases) {
      it(name, async () => {
        let path = content;
        if (!content.endsWith(".json")) {
          path = join(dir, `${name.replace(/ /g, "-")}.json`);
          writeFileSync(path, content);
        }
        const r = await cli("replay", path);
        expect(r.code).toBe(2);
        expect(r.err).toMatch(message);
        expect(r.err.split("\n")).toHaveLength(1);
      });
    }
    it("a valid report replays (expect pass → exit 0)", async () => {
      const path = join(dir, "good.json");
      writeFileSync(path, JSON.stringify(good));
      expect((await cli("replay", path, "-q")).code).toBe(0);
    });
  });
});
