/*
 * `rmapcheck conform`: random sequences on the reference model, the simulated kernel and the
 * real Linux host (conform/conform.ts), compared outcome by outcome and frame by frame. Exit
 * codes: 0 all agree, 1 a disagreement (shrunk, written as a shrink report), 2 usage error or
 * a host that cannot run the executor (one line).
 */
import { arch, release } from "node:os";
import { cmdToString, outcomeToString } from "../model/commands.js";
import { buildReport } from "../properties/report.js";
import type { ShrinkReport } from "../properties/report-schema.js";
import type { Counterexample } from "../properties/property.js";
import {
  type ConformCounterexample,
  type ConformResult,
  type Disagreement,
  type Tally,
  checkConformance,
  conformWorldFor,
  hostDisturbances,
  restrictions,
  runCommands,
} from "../conform/conform.js";
import { buildExecutor, hostSupport } from "../conform/host.js";
import { thpSupport } from "../conform/thp.js";
import { EXIT_COUNTEREXAMPLE, EXIT_OK, UsageError } from "./errors.js";
import { Progress } from "./progress.js";
import { loadReport, writeReport } from "./reports.js";
import { type DesignSpec, resolveDesign } from "./resolve.js";

export interface ConformFlags {
  /** DESIGN or DESIGN/MUTANT; default scan (with --replay: each report's own design). */
  design?: string;
  runs: number;
  seed: number;
  maxCommands: number;
  swarm: boolean;
  json: boolean;
  /** Where shrink reports go; undefined = do not write them. */
  reports?: string;
  /** Re-run these shrink reports' commands on all three sides instead of searching. */
  replay?: string[];
}

const hostName = () => `Linux ${release()} ${arch()}`;

/** The host must run the executor; otherwise one line and exit 2 (via UsageError). */
function requireHost(): void {
  buildExecutor(); // a fresh clone has nothing built yet; never throws
  const support = hostSupport();
  if (!support.ok) throw new UsageError(`conform needs the host executor, which cannot run here: ${support.why.split("\n")[0]}`);
}

export async function conformCommand(flags: ConformFlags): Promise<number> {
  if (flags.replay) {
    const given = flags.design === undefined ? undefined : resolveDesign(flags.design);
    requireHost();
    return replayOnHost(flags.replay, given, flags.json);
  }
  const spec = resolveDesign(flags.design ?? "scan");
  requireHost();
  const thp = requireThp(spec.design);
  const w = conformWorldFor(spec.design);
  if (!flags.json) {
    console.log(
      `rmapcheck conform: seed ${flags.seed}, ${flags.runs} runs, up to ${flags.maxCommands} commands per run, ` +
        `swarm ${flags.swarm ? "on" : "off"}, design ${spec.label}, host ${hostName()}`,
    );
    console.log(
      `world: ${w.vpnLimit} virtual pages, ${w.frameCount} frames (never reclaims), ${w.fileCount} files of ${w.fileInitialPages} pages, at most ${w.mmLiveMax} processes`,
    );
    if (thp && w.folioOrder) {
      console.log(
        `THP: ${1 << w.folioOrder}-page folios against the host's ${thp.pmdPages}-page PMD (THP mode ${thp.mode}): one model page is ${thp.scale} host pages, anonymous mappings get MADV_HUGEPAGE (docs/conform.md)`,
      );
    }
  }
  const progress = new Progress();
  const started = Date.now();
  const result = checkConformance({
    design: spec.design,
    mutant: spec.mutant,
    seed: flags.seed,
    runs: flags.runs,
    maxCommands: flags.maxCommands,
    swarm: flags.swarm,
    ...(thp ? { thp: { scale: thp.scale } } : {}),
    onRun: (runs, commands) =>
      progress.update(() => `conform: ${runs}/${flags.runs} runs, ${commands} commands, ${((Date.now() - started) / 1000).toFixed(0)} s`),
  });
  progress.done();
  const seconds = (Date.now() - started) / 1000;
  const cx = result.counterexample;
  const written = cx && flags.reports !== undefined ? writeReport(flags.reports, toReport(cx, result, spec, flags), spec.design) : undefined;
  if (flags.json) console.log(JSON.stringify(toJson(result, seconds, spec, written), null, 2));
  else printResult(result, seconds, written);
  if (thp && !flags.json) {
    const d = hostDisturbances;
    console.log(`  host runs repeated because the host changed large folios on its own (khugepaged, fallback, split): ${d.repeated}${d.repeated ? ` (last: ${d.last})` : ""}`);
  }
  return cx ? EXIT_COUNTEREXAMPLE : EXIT_OK;
}

function printResult(r: ConformResult, seconds: number, written?: { json: string; md: string; fresh: boolean }): void {
  const perRun = r.runs > 0 ? (1000 * seconds) / r.hostRuns : 0;
  const head = `conform: ${r.runs} runs, ${r.commands} commands on model, simulated kernel and host in ${seconds.toFixed(1)} s (${perRun.toFixed(0)} ms per host run)`;
  const cx = r.counterexample;
  if (!cx) console.log(`${head}: all agree`);
  else printDisagreement(head, cx);
  console.log(`  compared: ${describeTally(r.compared)}`);
  const kept = restrictions.filter((k) => r.skipped[k] > 0).map((k) => `${k} ${r.skipped[k]}`);
  console.log(`  kept from both sides (docs/conform.md): ${kept.join(", ") || "none"}; populate writes before mlock: ${r.populateWrites}`);
  if (written) {
    const how = written.fresh ? "shrink report written" : "shrink report already recorded";
    console.log(`  ${how}: ${written.json}\n  ${" ".repeat(how.length)}  ${written.md}\n  re-check on the host: rmapcheck conform --replay ${written.json}`);
  }
}

function printDisagreement(head: string, cx: ConformCounterexample): void {
  const d = cx.disagreement;
  console.log(`${head}: DISAGREEMENT (${d.kind})`);
  console.log(`  ${d.message}`);
  console.log(`  ${d.expected}  ≠  ${d.actual}`);
  console.log(`  found in run ${cx.runsToFailure} after ${cx.commandsToFailure} commands; shrunk from ${cx.foundLength} to ${cx.commands.length} commands:`);
  for (const line of traceTable(cx)) console.log(`    ${line}`);
}

/** The trace with the three sides' outcomes side by side. */
export function traceTable(cx: Pick<ConformCounterexample, "trace" | "disagreement">): string[] {
  const width = Math.max(...cx.trace.map((t) => cmdToString(t.cmd).length), 10);
  const col = (s: string) => s.padEnd(10);
  const lines = [`     ${"command".padEnd(width)}  ${col("model")} ${col("kernel")} host`];
  cx.trace.forEach((t, i) => {
    const mark = i === cx.disagreement.step ? "   ✗" : "";
    const host = t.host ? outcomeToString(t.host) : "-";
    lines.push(`${String(i).padStart(3)}  ${cmdToString(t.cmd).padEnd(width)}  ${col(outcomeToString(t.model))} ${col(outcomeToString(t.kernel))} ${host}${mark}`);
  });
  return lines;
}

const describeTally = (t: Tally) =>
  `${t.outcomes} outcomes, ${t.snapshots} snapshots: ${t.anonPages} anonymous (mm, page) pairs, ` +
  `${t.sharedAnonFrames} frames shared by 2+, ${t.dirtySharedPages} written shared-file pairs` +
  (t.largeFolioPages !== undefined || t.pmdMappedPages !== undefined
    ? `, ${t.largeFolioPages ?? 0} pairs in a large folio (${t.pmdMappedPages ?? 0} PMD-mapped)`
    : "");

/** A shrink report like `run`'s; the host's side is in the message, expected/actual and the explanation. */
function toReport(cx: ConformCounterexample, r: ConformResult, spec: DesignSpec, flags: ConformFlags): ShrinkReport {
  const d = cx.disagreement;
  const asProperty: Counterexample = {
    commands: cx.commands,
    failure: { invariant: d.invariant, message: d.message, expected: d.expected, actual: d.actual, step: d.step },
    records: cx.records,
    foundLength: cx.foundLength,
    commandsToFailure: cx.commandsToFailure,
    runsToFailure: cx.runsToFailure,
  };
  const onHost = d.kind !== "simulation";
  const report = buildReport(asProperty, {
    design: spec.design,
    mutant: spec.mutant,
    world: conformWorldFor(spec.design),
    seed: r.seed,
    runs: flags.runs,
    maxCommands: flags.maxCommands,
    swarm: flags.swarm,
    // `rmapcheck replay` re-runs only the simulated side: it passes there when the host is the odd one.
    expect: onHost ? "pass" : "fail",
    title: `${spec.label}: host conformance (${d.kind}) — ${d.message}`,
    explanation: explain(cx, onHost),
  });
  return onHost ? { ...report, essential: cx.essential } : report;
}

function explain(cx: ConformCounterexample, onHost: boolean): string {
  const d = cx.disagreement;
  const who = onHost
    ? "The host disagrees with the reference model and the simulated kernel, which agree with each other."
    : "The model and the simulated kernel disagree; the host was asked the same question.";
  const replay = onHost
    ? "`rmapcheck replay` re-runs the commands on the simulated kernel only, where every check holds (so this report expects **pass**); `rmapcheck conform --replay FILE` re-runs all three sides. Essential commands were found by deleting each one and re-running the host; the sections below are the simulated kernel's view."
    : "`rmapcheck replay` reproduces this on the simulated kernel alone.";
  const table = ["```", ...traceTable(cx), "```"].join("\n");
  return [`Found by \`rmapcheck conform\` on ${hostName()} (docs/conform.md). ${who}`, `**${d.expected}** ≠ **${d.actual}**.`, replay, table].join("\n\n");
}

function toJson(r: ConformResult, seconds: number, spec: DesignSpec, written?: { json: string; md: string }) {
  const cx = r.counterexample;
  return {
    design: spec.label,
    host: hostName(),
    seed: r.seed,
    runs: r.runs,
    commands: r.commands,
    hostRuns: r.hostRuns,
    seconds: Number(seconds.toFixed(3)),
    msPerHostRun: r.hostRuns > 0 ? Number(((1000 * seconds) / r.hostRuns).toFixed(1)) : 0,
    ok: r.ok,
    compared: r.compared,
    skipped: r.skipped,
    populateWrites: r.populateWrites,
    ...(cx ? { disagreement: disagreementJson(cx.disagreement, cx), ...(written ? { report: written } : {}) } : {}),
  };
}

const disagreementJson = (d: Disagreement, cx: ConformCounterexample) => ({
  ...d,
  commands: cx.commands,
  syscalls: cx.commands.map(cmdToString),
  trace: cx.trace.map((t) => ({
    syscall: cmdToString(t.cmd),
    model: outcomeToString(t.model),
    kernel: outcomeToString(t.kernel),
    host: t.host ? outcomeToString(t.host) : null,
  })),
  foundLength: cx.foundLength,
  runsToFailure: cx.runsToFailure,
  essential: cx.essential,
});

/** `conform --replay FILE…`: each report's commands on all three sides; exit 1 if any disagrees. */
function replayOnHost(files: string[], given: DesignSpec | undefined, json: boolean): number {
  // Validate everything first: bad input never half-runs.
  const loaded = files.map((file) => {
    const report = loadReport(file);
    const spec = given ?? resolveDesign(report.mutant ? `${report.design}/${report.mutant}` : report.design);
    return { file, report, spec };
  });
  const out: unknown[] = [];
  let disagreed = 0;
  for (const { file, report, spec } of loaded) {
    // A report's world has no folio order (the schema predates it): the design's own.
    const order = spec.design.world?.folioOrder;
    const thp = requireThp(spec.design);
    const v = runCommands(report.commands, {
      design: spec.design,
      mutant: spec.mutant,
      quirks: report.quirks,
      world: order ? { ...report.world, folioOrder: order } : report.world,
      ...(thp ? { thp: { scale: thp.scale } } : {}),
    });
    if (v.sim.unfaithful) {
      throw new UsageError(`${file}: command ${v.sim.unfaithful.index} is not one the host runs faithfully (${v.sim.unfaithful.why})`);
    }
    const d = v.disagreement;
    if (d) disagreed++;
    if (json) {
      out.push({ file, agree: d === undefined, ...(d ? { disagreement: d } : {}) });
      continue;
    }
    console.log(`${file}: ${report.commands.length} commands on ${spec.label} and ${hostName()}`);
    if (!d) {
      console.log("  => all three sides agree");
      continue;
    }
    const trace = v.sim.steps.slice(0, d.step + 1).map((s, i) => ({ cmd: s.cmd, model: s.model, kernel: s.kernel, host: v.host?.outcomes[i] }));
    for (const line of traceTable({ trace, disagreement: d })) console.log(`    ${line}`);
    console.log(`  => DISAGREES (${d.kind}) at step ${d.step}: ${d.message}\n     ${d.expected}  ≠  ${d.actual}`);
  }
  if (json) console.log(JSON.stringify(out.length === 1 ? out[0] : out, null, 2));
  return disagreed > 0 ? EXIT_COUNTEREXAMPLE : EXIT_OK;
}

/**
 * A large-folio design is compared in THP mode (conform/thp.ts): the host must have THP
 * enabled (always or madvise), a PMD that is a multiple of the model's folio, kpageflags and
 * PAGEMAP_SCAN. Otherwise one line and exit 2.
 */
function requireThp(design: { name: string; world?: { folioOrder?: number; mthpOrders?: readonly number[] } }) {
  const order = design.world?.folioOrder;
  if (!order) return undefined;
  const t = thpSupport(order, design.world?.mthpOrders);
  if (!t.ok) throw new UsageError(`conform: ${design.name} has large folios, which this host cannot compare: ${t.why.split("\n")[0]}`);
  return t;
}
