/*
 * Why this test? `--workers` spreads a campaign's chunks over this thread and worker threads,
 * which finish in whatever order the machine decides. A user must still get the same run from
 * the same seed: the same commands and coverage when the design passes, and the same failing
 * chunk and the same shrunk counterexample when it does not (CVE-2022-42703, found in chunk 9
 * at seed 10). Worker threads load the built JavaScript, so this runs the built CLI (dist/, made
 * by `npm ci` / `npm run build`) in a child process.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const bin = join(import.meta.dirname, "..", "bin", "rmapcheck.js");

interface RunJson {
  ok: boolean;
  runs: number;
  commands: number;
  coverage: Record<string, number>;
  failure?: { chunk: number; invariant: string; commands: unknown[] };
}

function run(...args: string[]): RunJson {
  try {
    return JSON.parse(execFileSync(process.execPath, [bin, "run", "--json", "--no-reports", ...args], { encoding: "utf8" })) as RunJson;
  } catch (e) {
    // Exit 1 (a counterexample) still prints the JSON.
    const out = (e as { stdout?: string }).stdout;
    if (out) return JSON.parse(out) as RunJson;
    throw e;
  }
}

describe("--workers keeps the run deterministic", () => {
  it("objrmap passes with the same commands and coverage on 1 and 2 workers", () => {
    const one = run("--design", "objrmap", "--runs", "800", "--seed", "9", "--workers", "1");
    const two = run("--design", "objrmap", "--runs", "800", "--seed", "9", "--workers", "2");
    expect(one.ok).toBe(true);
    expect([two.ok, two.runs, two.commands, two.coverage]).toEqual([one.ok, one.runs, one.commands, one.coverage]);
  });

  it("anon-vma-chain-3.19 fails in the same chunk with the same shrunk sequence on 1 and 2 workers", () => {
    const one = run("--design", "anon-vma-chain-3.19", "--runs", "3000", "--seed", "10", "--workers", "1");
    const two = run("--design", "anon-vma-chain-3.19", "--runs", "3000", "--seed", "10", "--workers", "2");
    expect(one.failure?.chunk).toBe(9);
    expect(one.failure?.invariant).toBe("I5");
    expect(two.failure).toEqual(one.failure);
  });
});
