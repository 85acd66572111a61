/*
 * `rmapcheck run`: the property suites against one or more designs, as campaigns
 * (cli/campaign.ts) that may span worker threads and shards.
 */
import { cmdToString } from "../model/commands.js";
import { defaultWorld } from "../model/world.js";
import { type CoverageCounts, missingMarks, requiredMarks } from "../properties/coverage.js";
import { type CampaignStats, type Counterexample, defaultMaxCommands, defaultShrinkBudget } from "../properties/property.js";
import { buildReport, counterexampleLines } from "../properties/report.js";
import { type CampaignResult, runCampaign } from "./campaign.js";
import { EXIT_COUNTEREXAMPLE, EXIT_OK } from "./errors.js";
import { type JunitCase, type JunitRun, writeJunit } from "./junit.js";
import type { RunDesignOutput } from "./output-schemas.js";
import { Progress } from "./progress.js";
import { writeReport } from "./reports.js";
import { type DesignSpec, resolveDesign } from "./resolve.js";

/** The campaign size at which every coverage mark must have been reached. */
export const DEFAULT_RUNS = 1000;

export interface RunFlags {
  design: string[];
  /** undefined: until the time limit. */
  runs?: number;
  seed: number;
  json: boolean;
  maxCommands: number;
  swarm: boolean;
  /** Allocation-failure injection probability (undefined: off). */
  failAlloc?: number;
  /** Interleaving mode's race probability (undefined: off). */
  interleave?: number;
  checkEvery: number;
  shrinkBudget: number;
  timeLimit?: number;
  workers: number;
  shard: { index: number; count: number };
  stats: boolean;
  /** Where shrink reports go; undefined = do not write them. */
  reports?: string;
  /** Also write a JUnit XML report here. */
  junit?: string;
  /** Design modules (absolute paths) the designs may come from; worker threads load them too. */
  designModules?: string[];
}

interface DesignRun {
  spec: DesignSpec;
  result: CampaignResult;
  seconds: number;
  missing: string[];
  reportPaths?: { json: string; md: string; fresh: boolean };
}

export async function runCommand(flags: RunFlags): Promise<number> {
  const specs = flags.design.map(resolveDesign);
  const w = defaultWorld;
  if (!flags.json) {
    const runs = flags.runs === undefined ? "until the time limit" : `${flags.runs} runs per design`;
    const extra = [
      flags.timeLimit ? `time limit ${flags.timeLimit} s` : "",
      flags.workers > 1 ? `${flags.workers} workers` : "",
      flags.shard.count > 1 ? `shard ${flags.shard.index}/${flags.shard.count}` : "",
    ].filter(Boolean);
    console.log(
      `rmapcheck run: seed ${flags.seed}, ${runs}, up to ${flags.maxCommands} commands per run, ` +
        `swarm ${flags.swarm ? "on" : "off"}, ${flags.failAlloc ? `allocation failures ${flags.failAlloc}${flags.swarm ? " (swarm: off in some runs)" : ""}, ` : ""}${flags.interleave ? `interleaving ${flags.interleave}${flags.swarm ? " (swarm: off in some runs)" : ""}, ` : ""}checks every ${flags.checkEvery === 1 ? "step" : `${flags.checkEvery} steps`}` +
        (extra.length ? `, ${extra.join(", ")}` : ""),
    );
    console.log(
      `world: ${w.vpnLimit} virtual pages, ${w.frameCount} frames, ${w.fileCount} files of ${w.fileInitialPages} pages, at most ${w.mmLiveMax} processes`,
    );
    const folio = specs.map((s) => s.design).filter((d) => d.world?.folioOrder);
    if (folio.length > 0)
      console.log(`large folios: order ${folio[0]?.world?.folioOrder} (${1 << (folio[0]?.world?.folioOrder ?? 0)} pages, one PMD) for ${folio.map((d) => d.name).join(", ")}`);
  }
  const results: DesignRun[] = [];
  for (const spec of specs) results.push(await runOne(spec, flags));
  if (flags.json) {
    const out = results.map((r) => toJson(r, flags));
    console.log(JSON.stringify(out.length === 1 ? out[0] : out, null, 2));
  } else {
    const commands = results.reduce((a, r) => a + r.result.commands, 0);
    const seconds = results.reduce((a, r) => a + r.seconds, 0);
    const failed = results.filter((r) => r.result.failure || r.missing.length > 0).length;
    console.log(
      `summary: ${results.length} design(s), ${failed} failed; ${results.reduce((a, r) => a + r.result.runs, 0)} runs, ` +
        `${commands} commands executed in ${seconds.toFixed(1)} s (${rate(commands, seconds)} commands/s); seed ${flags.seed}`,
    );
  }
  if (flags.junit) writeJunit(flags.junit, junitRun(results, flags));
  return results.every((r) => !r.result.failure && r.missing.length === 0) ? EXIT_OK : EXIT_COUNTEREXAMPLE;
}

function junitRun(results: DesignRun[], flags: RunFlags): JunitRun {
  const cases = results.map((r): JunitCase => {
    const res = r.result;
    const cx = res.failure?.counterexample;
    const lines = [`${r.spec.label}: ${res.runs} runs, ${res.commands} commands; seed ${flags.seed}`];
    if (r.reportPaths) lines.push(`shrink report: ${r.reportPaths.json}`, `replay it: rmapcheck replay ${r.reportPaths.json}`);
    const failure = cx
      ? {
          type: cx.failure.invariant,
          message: `${cx.failure.invariant}: ${cx.failure.message}`,
          text: [...counterexampleLines(cx, res.failure?.chunk ?? 0), ...lines.slice(1)].join("\n"),
        }
      : r.missing.length > 0
        ? { type: "coverage", message: `required coverage mark(s) never reached: ${r.missing.join(", ")}`, text: r.missing.join("\n") }
        : undefined;
    return { name: r.spec.label, seconds: r.seconds, out: lines.join("\n"), ...(failure ? { failure } : {}) };
  });
  const properties = {
    seed: flags.seed,
    runs: flags.runs ?? "until the time limit",
    maxCommands: flags.maxCommands,
    swarm: flags.swarm,
    checkEvery: flags.checkEvery,
    shard: `${flags.shard.index}/${flags.shard.count}`,
  };
  return { seed: flags.seed, properties, cases };
}

const rate = (n: number, s: number) => (s > 0 ? Math.round(n / s) : n).toString();

async function runOne(spec: DesignSpec, flags: RunFlags): Promise<DesignRun> {
  const progress = new Progress();
  const started = Date.now();
  let lastRunAt = started;
  const result = await runCampaign(
    {
      design: spec.design.name,
      mutant: spec.mutant,
      quirks: spec.quirks,
      seed: flags.seed,
      runs: flags.runs,
      timeLimit: flags.timeLimit,
      workers: flags.workers,
      shard: flags.shard,
      maxCommands: flags.maxCommands,
      swarm: flags.swarm,
      failAlloc: flags.failAlloc,
      interleave: flags.interleave,
      checkEvery: flags.checkEvery,
      shrinkBudget: flags.shrinkBudget,
      designModules: flags.designModules,
    },
    (p) => {
      lastRunAt = Date.now();
      progress.update(() => {
        const s = (Date.now() - started) / 1000;
        const reached = requiredMarks.length - missingMarks(p.coverage).length;
        const of = flags.runs === undefined ? "" : `/${flags.runs}`;
        return `${spec.label}: ${p.runs}${of} runs, ${p.commands} commands, ${rate(p.commands, s)} commands/s, coverage ${reached}/${requiredMarks.length} marks, ${s.toFixed(0)} s`;
      });
    },
  );
  progress.done();
  // Rates cover the search; shrinking a counterexample (after the last run) is not counted.
  const seconds = ((result.failure ? lastRunAt : Date.now()) - started) / 1000;
  // Coverage is required of a full-size campaign that ran to its end without a failure.
  const fullSize = flags.shard.count === 1 && !result.stopped && result.runs >= DEFAULT_RUNS;
  const missing = !result.failure && fullSize ? missingMarks(result.coverage) : [];
  const run: DesignRun = { spec, result, seconds, missing };
  if (!flags.json) printResult(run, flags);
  const cx = result.failure?.counterexample;
  if (cx && flags.reports !== undefined) {
    const report = buildReport(cx, {
      design: spec.design,
      mutant: spec.mutant,
      quirks: spec.quirks,
      seed: flags.seed,
      chunk: result.failure?.chunk,
      runs: flags.runs ?? result.runs,
      maxCommands: flags.maxCommands,
      swarm: flags.swarm,
      failAlloc: flags.failAlloc,
      interleave: flags.interleave,
    });
    const written = writeReport(flags.reports, report, spec.design);
    run.reportPaths = written;
    if (!flags.json) {
      const how = written.fresh ? "shrink report written" : "shrink report already recorded";
      console.log(`  ${how}: ${written.json}\n  ${" ".repeat(how.length)}  ${written.md}\n  replay it: rmapcheck replay ${written.json}`);
    }
  }
  return run;
}

function printResult({ spec, result: r, seconds, missing }: DesignRun, flags: RunFlags): void {
  const head = `${spec.label}: ${r.runs} runs, ${r.commands} commands in ${seconds.toFixed(1)} s (${rate(r.commands, seconds)} commands/s)`;
  const cx = r.failure?.counterexample;
  if (!cx) {
    if (missing.length > 0) {
      console.log(`${head}: COVERAGE FAILURE — required mark(s) never reached: ${missing.join(", ")}`);
    } else {
      console.log(`${head}: ok${r.stopped ? " (time limit reached)" : ""}`);
    }
    if (flags.stats) printStats(r.stats, r.coverage, r.runs);
    return;
  }
  console.log(`${head}: COUNTEREXAMPLE`);
  printCounterexample(cx, r.failure?.chunk ?? 0);
  if (flags.stats) printStats(r.stats, r.coverage, r.runs);
}

export function printCounterexample(cx: Counterexample, chunk: number): void {
  for (const line of counterexampleLines(cx, chunk)) console.log(line);
}

export function summarizeStats(stats: CampaignStats, coverage: CoverageCounts, runs: number) {
  const total = Object.values(stats.ops).reduce((a, b) => a + b, 0);
  // stats.lengths[n] = runs of n commands; the p-quantile is the length of run ⌊p·runs⌋ in order.
  const counted = stats.lengths.reduce((a, b) => a + b, 0);
  const nth = (i: number): number => {
    let seen = 0;
    for (let n = 0; n < stats.lengths.length; n++) {
      seen += stats.lengths[n] as number;
      if (seen > i) return n;
    }
    return 0;
  };
  const pct = (p: number) => (counted === 0 ? 0 : nth(Math.min(counted - 1, Math.floor(p * counted))));
  return {
    commandMix: Object.fromEntries(Object.entries(stats.ops).sort((a, b) => b[1] - a[1])),
    commandsGenerated: total,
    skipped: stats.skipped,
    skipRate: total > 0 ? Number((stats.skipped / total).toFixed(4)) : 0,
    failurePoints: stats.failurePoints,
    failuresFired: stats.failuresFired,
    races: stats.races,
    racesNeedingRmapLocks: stats.racesNeedingRmapLocks,
    sequenceLength: { min: counted === 0 ? 0 : nth(0), median: pct(0.5), p90: pct(0.9), max: counted === 0 ? 0 : nth(counted - 1) },
    runs,
    coverage,
  };
}

function printStats(stats: CampaignStats, coverage: CoverageCounts, runs: number): void {
  const s = summarizeStats(stats, coverage, runs);
  const mix = Object.entries(s.commandMix)
    .map(([op, n]) => `${op} ${((100 * n) / s.commandsGenerated).toFixed(1)}%`)
    .join(", ");
  console.log(`  command mix (${s.commandsGenerated} commands): ${mix}`);
  const l = s.sequenceLength;
  console.log(`  sequence length: min ${l.min}, median ${l.median}, p90 ${l.p90}, max ${l.max}; skipped ${s.skipped} (${(100 * s.skipRate).toFixed(2)}%)`);
  if (s.failurePoints > 0) console.log(`  allocation failures: ${s.failurePoints} failure points, ${s.failuresFired} reached (the rest named an allocation the command never made)`);
  if (s.races > 0) console.log(`  interleaving: ${s.races} commands (mremap moves, forks, truncates) raced a walk or a fault, ${s.racesNeedingRmapLocks} moves merged into a neighbour the walk visits first (need_rmap_locks)`);
  console.log(`  coverage (runs reaching each mark, of ${runs}):`);
  for (const m of requiredMarks) console.log(`    ${m.padEnd(28)} ${String(coverage[m]).padStart(7)}`);
}

function toJson(r: DesignRun, flags: RunFlags): RunDesignOutput {
  const res = r.result;
  const base = {
    design: r.spec.label,
    seed: flags.seed,
    runs: res.runs,
    commands: res.commands,
    seconds: Number(r.seconds.toFixed(3)),
    commandsPerSecond: Number(rate(res.commands, r.seconds)),
    ok: !res.failure && r.missing.length === 0,
    coverage: res.coverage,
    ...(r.missing.length > 0 ? { missingCoverage: r.missing } : {}),
    ...(flags.stats ? { stats: summarizeStats(res.stats, res.coverage, res.runs) } : {}),
  };
  const cx = res.failure?.counterexample;
  if (!cx) return base;
  return {
    ...base,
    failure: {
      invariant: cx.failure.invariant,
      message: cx.failure.message,
      step: cx.failure.step,
      chunk: res.failure?.chunk,
      chunkSeed: res.failure?.seed,
      commands: cx.commands,
      syscalls: cx.commands.map(cmdToString),
      foundLength: cx.foundLength,
      runsToFailure: cx.runsToFailure,
      commandsToFailure: cx.commandsToFailure,
      ...(cx.failure.page ? { page: cx.failure.page } : {}),
      ...(r.reportPaths ? { report: r.reportPaths } : {}),
    },
  };
}

export { defaultMaxCommands, defaultShrinkBudget };
