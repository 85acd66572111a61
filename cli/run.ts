/*
 * `rmapcheck run`: the property suites against one or more designs.
 */
import { cmdToString, outcomeToString } from "../model/commands.js";
import { defaultWorld } from "../model/world.js";
import { type PropertyResult, checkDesign, defaultMaxCommands } from "../properties/property.js";
import { buildReport } from "../properties/report.js";
import { EXIT_COUNTEREXAMPLE, EXIT_OK } from "./errors.js";
import { writeReport } from "./reports.js";
import { Progress } from "./progress.js";
import { type DesignSpec, resolveDesign } from "./resolve.js";

export interface RunFlags {
  design: string[];
  runs: number;
  seed: number;
  json: boolean;
  maxCommands: number;
  swarm: boolean;
  checkEvery: number;
  timeLimit?: number;
  /** Where shrink reports go; undefined = do not write them. */
  reports?: string;
}

export function runCommand(flags: RunFlags): number {
  const specs = flags.design.map(resolveDesign);
  const w = defaultWorld;
  if (!flags.json) {
    console.log(
      `rmapcheck run: seed ${flags.seed}, ${flags.runs} runs per design, up to ${flags.maxCommands} commands per run, ` +
        `swarm ${flags.swarm ? "on" : "off"}, checks every ${flags.checkEvery === 1 ? "step" : `${flags.checkEvery} steps`}` +
        (flags.timeLimit ? `, time limit ${flags.timeLimit} s` : ""),
    );
    console.log(
      `world: ${w.vpnLimit} virtual pages, ${w.frameCount} frames, ${w.fileCount} files of ${w.fileInitialPages} pages, at most ${w.mmLiveMax} processes`,
    );
  }
  const results: RunResult[] = [];
  for (const spec of specs) results.push(runOne(spec, flags));
  if (flags.json) {
    const out = results.map(toJson);
    console.log(JSON.stringify(out.length === 1 ? out[0] : out, null, 2));
  } else {
    const commands = results.reduce((a, r) => a + r.commands, 0);
    const seconds = results.reduce((a, r) => a + r.seconds, 0);
    const failed = results.filter((r) => !r.ok).length;
    console.log(
      `summary: ${results.length} design(s), ${failed} failed; ${results.reduce((a, r) => a + r.runs, 0)} runs, ` +
        `${commands} commands executed in ${seconds.toFixed(1)} s (${rate(commands, seconds)} commands/s); seed ${flags.seed}`,
    );
  }
  return results.every((r) => r.ok) ? EXIT_OK : EXIT_COUNTEREXAMPLE;
}

const rate = (n: number, s: number) => (s > 0 ? Math.round(n / s) : n).toString();

type RunResult = PropertyResult & { seconds: number; reportPaths?: { json: string; md: string } };

function runOne(spec: DesignSpec, flags: RunFlags): RunResult {
  const progress = new Progress();
  const started = Date.now();
  const deadline = flags.timeLimit ? started + flags.timeLimit * 1000 : Number.POSITIVE_INFINITY;
  const result = checkDesign({
    design: spec.design,
    mutant: spec.mutant,
    seed: flags.seed,
    runs: flags.runs,
    maxCommands: flags.maxCommands,
    swarm: flags.swarm,
    checkEvery: flags.checkEvery,
    onRun: (runs, commands) =>
      progress.update(() => {
        const s = (Date.now() - started) / 1000;
        return `${spec.label}: ${runs}/${flags.runs} runs, ${commands} commands, ${rate(commands, s)} commands/s`;
      }),
    shouldStop: () => Date.now() > deadline,
  });
  progress.done();
  const seconds = (Date.now() - started) / 1000;
  if (!flags.json) printResult(spec, result, seconds);
  let reportPaths: { json: string; md: string } | undefined;
  if (result.counterexample && flags.reports !== undefined) {
    const report = buildReport(result.counterexample, {
      design: spec.design,
      mutant: spec.mutant,
      seed: flags.seed,
      runs: flags.runs,
      maxCommands: flags.maxCommands,
      swarm: flags.swarm,
    });
    const written = writeReport(flags.reports, report, spec.design);
    reportPaths = written;
    if (!flags.json) {
      const how = written.fresh ? "shrink report written" : "shrink report already recorded";
      console.log(`  ${how}: ${written.json}\n  ${" ".repeat(how.length)}  ${written.md}\n  replay it: rmapcheck replay ${written.json}`);
    }
  }
  return { ...result, seconds, reportPaths };
}

function printResult(spec: DesignSpec, r: PropertyResult, seconds: number): void {
  const head = `${spec.label}: ${r.runs} runs, ${r.commands} commands in ${seconds.toFixed(1)} s (${rate(r.commands, seconds)} commands/s)`;
  if (r.ok) {
    console.log(`${head}: ok`);
    return;
  }
  const cx = r.counterexample;
  if (!cx) return;
  console.log(`${head}: COUNTEREXAMPLE`);
  console.log(`  ${cx.failure.invariant}: ${cx.failure.message}`);
  console.log(
    `  found in run ${cx.runsToFailure} after ${cx.commandsToFailure} commands; shrunk from ${cx.foundLength} to ${cx.commands.length} commands:`,
  );
  const width = Math.max(...cx.commands.map((c) => cmdToString(c).length), 10);
  cx.records.forEach((rec, i) => {
    const mark = i === cx.failure.step ? `   ✗ ${cx.failure.invariant}` : "";
    const implicit = i >= cx.commands.length ? " (final exit)" : "";
    console.log(`    ${String(i).padStart(3)}  ${cmdToString(rec.cmd).padEnd(width)}  → ${outcomeToString(rec.kernel)}${implicit}${mark}`);
  });
  if (cx.failure.step >= cx.records.length) console.log(`    ✗ ${cx.failure.invariant} after every process exited`);
  if (cx.failure.page) {
    console.log(`  ${cx.failure.page.describe}: mapped by {${cx.failure.page.ref.join(", ")}}; the walk found {${cx.failure.page.walk.join(", ")}}`);
  }
}

function toJson(r: RunResult) {
  const base = {
    design: r.mutant ? `${r.design}/${r.mutant}` : r.design,
    seed: r.seed,
    runs: r.runs,
    commands: r.commands,
    seconds: Number(r.seconds.toFixed(3)),
    commandsPerSecond: Number(rate(r.commands, r.seconds)),
    ok: r.ok,
  };
  const cx = r.counterexample;
  if (!cx) return base;
  return {
    ...base,
    failure: {
      invariant: cx.failure.invariant,
      message: cx.failure.message,
      step: cx.failure.step,
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

export { defaultMaxCommands };
