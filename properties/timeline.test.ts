/*
 * The frames `rmapcheck view` draws, node-only: the committed reports and every catalogue
 * entry's known sequence replay into frames that fail where replay fails, and the failing
 * frame shows what the failure is about (the missed PTE, the vmas with different chains, the
 * page pointing at freed memory).
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadReport } from "../cli/reports.js";
import { resolveDesign } from "../cli/resolve.js";
import { catalogue, mutantLabel } from "../impl/mutants/catalogue.js";
import type { Cmd } from "../model/commands.js";
import { runSequence } from "./interpreter.js";
import { buildReport, replay } from "./report.js";
import type { ShrinkReport } from "./report-schema.js";
import { type Frame, buildTimeline } from "./timeline.js";

/** A real shrink report of a known sequence (as `run` would write it, without the search). */
function reportOf(spec: string, commands: readonly Cmd[], quirks?: readonly string[]): ShrinkReport {
  const { design, mutant } = resolveDesign(spec);
  const r = runSequence(design, commands, { mutant, quirks, checkEvery: 1 });
  if (!r.failure) throw new Error(`${spec}: the sequence does not fail`);
  const cx = { commands: [...commands], failure: r.failure, records: r.records, foundLength: commands.length, commandsToFailure: commands.length, runsToFailure: 1 };
  return buildReport(cx, { design, mutant, quirks, seed: 0, runs: 1, maxCommands: commands.length, swarm: false });
}

const timelineOf = (report: ShrinkReport) => {
  const { design, mutant } = resolveDesign(report.mutant ? `${report.design}/${report.mutant}` : report.design);
  return buildTimeline(report, design, mutant);
};

const failing = (frames: Frame[], at: number | undefined): Frame => {
  expect(at).toBeDefined();
  return frames[at as number] as Frame;
};

describe("timeline of the committed reports", () => {
  const dir = "shrink-reports";
  const files = readdirSync(dir).filter((f) => f.endsWith(".json"));

  it.each(files)("%s: fails at the frame and with the invariant replay reports", (file) => {
    const report = loadReport(join(dir, file));
    const t = timelineOf(report);
    const { design, mutant } = resolveDesign(report.mutant ? `${report.design}/${report.mutant}` : report.design);
    const r = replay(report, design, mutant);
    expect(r.failure).toBeDefined();
    // frame 0 is the state before the first command; frame i + 1 the state after command i
    expect(t.failingFrame).toBe((r.failure?.step as number) + 1);
    expect(failing(t.frames, t.failingFrame).violation?.invariant).toBe(report.invariant);
    expect(t.frames[0]?.step).toBe(-1);
    expect(t.frames.slice(1).map((f) => f.step)).toEqual(t.frames.slice(1).map((_, i) => i));
  });

  it("CVE-2022-42703: the failing frame draws two vmas on anon_vma #3 with different chains", () => {
    const t = timelineOf(loadReport(join(dir, "anon-vma-chain-3.19-I5-d23ed9d2.json")));
    const f = failing(t.frames, t.failingFrame);
    expect(f.cmd).toBe("fork(mm6) → mm7");
    expect(t.suspect.vmas).toEqual(["vma#6", "vma#8"]);
    const out = (id: string, kind: string) =>
      f.graph.edges
        .filter((e) => e.source === id && e.kind === kind)
        .map((e) => e.target)
        .sort();
    expect(out("vma#6", "anon_vma")).toEqual(["anon_vma:3"]);
    expect(out("vma#8", "anon_vma")).toEqual(["anon_vma:3"]);
    expect(out("vma#6", "avc")).toEqual(["anon_vma:1", "anon_vma:2", "anon_vma:3"]);
    expect(out("vma#8", "avc")).toEqual(["anon_vma:1", "anon_vma:2", "anon_vma:3", "anon_vma:4"]);
    // the page all five mms map is the one under suspicion, and its walk is still complete
    expect(t.suspect.pfn).toBe(0);
    const walk = f.walks.find((w) => w.pfn === 0);
    expect(walk?.ref).toHaveLength(5);
    expect(walk?.missed).toEqual([]);
    // address spaces: mm2 and mm3 have exited
    expect(f.mms.map((m) => m.id)).toEqual([1, 4, 5, 6, 7]);
    expect(f.mms.every((m) => m.vmas.length === 1 && m.ptes[0]?.state === "present")).toBe(true);
  });

  it("anon-vma-rfc I4: the page's mapping is a freed vma, and its walk crashes", () => {
    const t = timelineOf(loadReport(join(dir, "anon-vma-rfc-I4-075ca37b.json")));
    const f = failing(t.frames, t.failingFrame);
    const freed = f.graph.nodes.find((n) => n.kind === "freed");
    expect(freed?.label).toBe("freed vma");
    expect(freed?.detail).toMatch(/freed at mmap\(MAP_FIXED\)/); // the mmap that split the vma (its munmap part)
    expect(f.graph.edges.some((e) => e.kind === "mapping" && e.target === freed?.id)).toBe(true);
    expect(t.suspect.pfn).toBe(0);
    expect(t.suspect.missed).toEqual(["mm1:0xa"]);
    expect(f.walks[0]?.error).toMatch(/use-after-free/);
  });
});

describe("timeline of every catalogue entry's known sequence", () => {
  it.each(catalogue.map((m) => [`${m.id} ${mutantLabel(m)}`, m] as const))("%s: frames fail where the sequence fails", (_id, m) => {
    const report = reportOf(m.mutant ? `${m.design}/${m.mutant}` : m.design, m.minimal, m.quirks);
    const t = timelineOf(report);
    const f = failing(t.frames, t.failingFrame);
    expect(f.violation?.invariant).toBe(report.invariant);
    expect(f.violation?.message).toBe(report.message);
    // a failure that names a page (or its walk) puts that page under suspicion
    const named = /\bpfn (\d+)/.exec(report.message)?.[1];
    if (report.page) expect(t.suspect.pfn).toBe(report.page.pfn);
    else if (named !== undefined) expect(t.suspect.pfn).toBe(Number(named));
    // determinism: the same report gives the same frames
    expect(JSON.stringify(timelineOf(report))).toBe(JSON.stringify(t));
  });

  it("P0 (scan skips the newest mm): the failing frame marks mm2's PTE as missed, mm1's as visited", () => {
    const p0 = catalogue.find((m) => m.id === "P0");
    const t = timelineOf(reportOf("scan/skip-newest-mm", p0?.minimal ?? []));
    const f = failing(t.frames, t.failingFrame);
    expect(f.violation?.invariant).toBe("I1");
    expect(t.suspect.missed).toEqual(["mm2:0x1"]);
    const walk = f.walks.find((w) => w.pfn === t.suspect.pfn);
    expect(walk?.walk).toEqual(["mm1:0x1"]);
    expect(walk?.missed).toEqual(["mm2:0x1"]);
  });

  it("a report that no longer fails (viewed on the fixed design) has no failing frame and ends after the final exits", () => {
    const report = loadReport("shrink-reports/anon-vma-chain-3.19-I5-d23ed9d2.json");
    const t = buildTimeline(report, resolveDesign("anon-vma-chain").design, undefined);
    expect(t.failingFrame).toBeUndefined();
    const tail = t.frames.slice(report.commands.length + 1);
    expect(tail.length).toBeGreaterThan(0);
    expect(tail.every((f) => f.finalExit && f.cmd?.startsWith("exit("))).toBe(true);
    expect(t.frames.at(-1)?.mms).toEqual([]);
  });
});
