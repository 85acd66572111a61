/*
 * Shrink reports: a counterexample saved as data (JSON, schema in report-schema.ts) with a
 * Markdown page beside it for the kernel developer, and replay from the data alone.
 */
import { createHash } from "node:crypto";
import { type Cmd, cmdToString, outcomeToString } from "../model/commands.js";
import { type World, defaultWorld } from "../model/world.js";
import type { DesignInfo } from "../impl/design.js";
import { findVma } from "../impl/mmap.js";
import type { Page } from "../impl/types.js";
import type { CheckId, Violation } from "./checks.js";
import { type Failure, Session, type StepRecord, runSequence } from "./interpreter.js";
import { Letters, drawLayout, legend } from "./picture.js";
import type { Counterexample } from "./property.js";
import { REPORT_SCHEMA, REPORT_VERSION, type ShrinkReport } from "./report-schema.js";

export const HARNESS_VERSION = "0.1.0";

/** One line per invariant: why a kernel developer should care (primer §5). */
export const whyItMatters: Record<CheckId, string> = {
  I1: "I1 (completeness): a walk that misses a PTE lets swap-out, migration or truncation leave a process mapping a page the kernel believes unmapped — lost writes, or a freed frame still mapped.",
  I2: "I2 (soundness): a walk that reports a PTE which does not map the page would unmap or migrate another page's mapping.",
  I3: "I3 (mapcount): a wrong mapcount frees a page that is still mapped, or never frees it.",
  I4: "I4 (liveness): the rmap touched freed kernel memory — the use-after-free class of CVE-2022-42703.",
  I5: "I5 (anon_vma_chain): two vmas share an anon_vma but not a chain, so a merge can drop the chain a page needs.",
  I6: "I6 (reachability): a vma maps a page whose anon object it cannot reach, so the walk cannot find that PTE.",
  I7: "I7 (index): page->index disagrees with the vma's linear page index, so vma_address() looks in the wrong place.",
  I8: "I8 (counters): a reference or degree counter drifts from its recomputation — a leak or a premature free waiting to happen.",
  I9: "I9 (leaks): structures outlive every process that could use them.",
  I10: "I10 (interleavings): a concurrent walk saw a PTE in neither its old nor its new place.",
  I11: "I11 (tree keys): an i_mmap or anon_vma tree holds a vma under a stale range, so walks miss it.",
  I12: "I12 (folio mapcounts): a large folio's mapcount, entire mapcount, per-page or MM-id mapcount disagrees with its mappings — the folio is freed while mapped, or never split and freed.",
  I13: "I13 (exclusivity): a page is PageAnonExclusive while another mm maps it, or the folio claims to be mapped by one mm while two do — COW reuse then hands a shared page to a writer.",
  I14: "I14 (deferred split): a partially mapped large folio is not on the deferred split queue, so its unmapped pages are never reclaimed.",
  SEMANTIC: "A process observes something the reference model forbids: the kernel's result differs from what the syscalls promise.",
  KERNEL: "The simulated kernel hit an internal assertion or crashed while running the design.",
};

export interface ReportOptions {
  readonly design: DesignInfo;
  readonly mutant?: string;
  readonly quirks?: readonly string[];
  readonly world?: World;
  readonly seed: number;
  readonly chunk?: number;
  readonly runs: number;
  readonly maxCommands: number;
  readonly swarm: boolean;
  readonly failAlloc?: number;
  readonly interleave?: number;
  readonly expect?: "fail" | "pass";
  readonly title?: string;
  readonly explanation?: string;
}

const sessionOpts = (r: Pick<ShrinkReport, "mutant" | "quirks" | "world">) => ({
  mutant: r.mutant,
  quirks: r.quirks,
  world: r.world,
  checkEvery: 1,
});

/** Build the report for a counterexample, including which commands are essential. */
export function buildReport(cx: Counterexample, o: ReportOptions): ShrinkReport {
  // A folio design's own world (folioOrder, mthpOrders, fileFolios) when the caller names none.
  const world = o.world ?? o.design.world ?? defaultWorld;
  const f = cx.failure;
  const base = { mutant: o.mutant, quirks: o.quirks ? [...o.quirks] : undefined, world: { ...world } };
  return {
    schema: REPORT_SCHEMA,
    version: REPORT_VERSION,
    harness: { name: "rmapcheck", version: HARNESS_VERSION },
    design: o.design.name,
    ...(o.mutant ? { mutant: o.mutant } : {}),
    ...(o.quirks && o.quirks.length > 0 ? { quirks: [...o.quirks] } : {}),
    ...(o.title ? { title: o.title } : {}),
    ...(o.explanation ? { explanation: o.explanation } : {}),
    found: {
      seed: o.seed,
      ...(o.chunk !== undefined ? { chunk: o.chunk } : {}),
      runs: o.runs,
      maxCommands: o.maxCommands,
      swarm: o.swarm,
      ...(o.failAlloc ? { failAlloc: o.failAlloc } : {}),
      ...(o.interleave ? { interleave: o.interleave } : {}),
      runsToFailure: cx.runsToFailure,
      commandsToFailure: cx.commandsToFailure,
      foundLength: cx.foundLength,
    },
    world: { ...world },
    commands: cx.commands,
    failingStep: f.step,
    invariant: f.invariant,
    message: f.message,
    ...(f.expected !== undefined ? { expected: f.expected } : {}),
    ...(f.actual !== undefined ? { actual: f.actual } : {}),
    ...(f.page ? { page: f.page } : {}),
    essential: essentialCommands(o.design, cx.commands, f.invariant, base),
    expect: o.expect ?? "fail",
  };
}

/** Indices whose deletion makes the failure (with the same invariant) go away. */
export function essentialCommands(
  design: DesignInfo,
  cmds: readonly Cmd[],
  invariant: CheckId,
  opts: Pick<ShrinkReport, "mutant" | "quirks" | "world">,
): number[] {
  const out: number[] = [];
  cmds.forEach((_, i) => {
    const r = runSequence(design, [...cmds.slice(0, i), ...cmds.slice(i + 1)], sessionOpts(opts));
    if (r.failure?.invariant !== invariant) out.push(i);
  });
  return out;
}

export function reportFileStem(r: ShrinkReport): string {
  const hash = createHash("sha256")
    .update(JSON.stringify([r.design, r.mutant ?? "", r.quirks ?? [], r.commands]))
    .digest("hex")
    .slice(0, 8);
  const design = r.mutant ? `${r.design}~${r.mutant}` : r.design;
  return `${design}-${r.invariant}-${hash}`;
}

/** The counterexample as printed: invariant, provenance, the shrunk sequence, the page. */
export function counterexampleLines(cx: Counterexample, chunk?: number): string[] {
  const out = [`  ${cx.failure.invariant}: ${cx.failure.message}`];
  out.push(
    `  found in run ${cx.runsToFailure}${chunk === undefined ? "" : ` of chunk ${chunk}`} after ${cx.commandsToFailure} commands; shrunk from ${cx.foundLength} to ${cx.commands.length} commands:`,
  );
  const width = Math.max(...cx.commands.map((c) => cmdToString(c).length), 10);
  cx.records.forEach((rec, i) => {
    const mark = i === cx.failure.step ? `   ✗ ${cx.failure.invariant}` : "";
    const implicit = i >= cx.commands.length ? " (final exit)" : "";
    out.push(`    ${String(i).padStart(3)}  ${cmdToString(rec.cmd).padEnd(width)}  → ${outcomeToString(rec.kernel)}${implicit}${mark}`);
  });
  if (cx.failure.step >= cx.records.length) out.push(`    ✗ ${cx.failure.invariant} after every process exited`);
  if (cx.failure.page) {
    out.push(`  ${cx.failure.page.describe}: mapped by {${cx.failure.page.ref.join(", ")}}; the walk found {${cx.failure.page.walk.join(", ")}}`);
  }
  return out;
}

// --- replay -----------------------------------------------------------------------------------

export interface Replay {
  readonly records: StepRecord[];
  readonly failure?: Failure;
  readonly trace: string[];
  readonly hash: string;
}

export function traceLines(records: readonly StepRecord[], failure: Failure | undefined, explicit: number): string[] {
  const lines = records.map((rec, i) => {
    const same = outcomeToString(rec.model) === outcomeToString(rec.kernel);
    const outcome = same ? outcomeToString(rec.kernel) : `${outcomeToString(rec.kernel)} (model: ${outcomeToString(rec.model)})`;
    const fail = failure && failure.step === i ? `  ✗ ${failure.invariant}` : "  ✓";
    const tag = i >= explicit ? "  [final exit]" : "";
    return `${String(i).padStart(3)}  ${cmdToString(rec.cmd)}  → ${outcome}${tag}${fail}`;
  });
  if (failure && failure.step >= records.length) lines.push(`  ✗ ${failure.invariant} after every process exited`);
  if (failure) lines.push(`  ${failure.invariant}: ${failure.message}`);
  return lines;
}

/** Re-execute a report's commands against its design (or `design`, to test another one). */
export function replay(report: ShrinkReport, design: DesignInfo, mutant: string | undefined): Replay {
  const r = runSequence(design, report.commands, { ...sessionOpts(report), mutant });
  const trace = traceLines(r.records, r.failure, report.commands.length);
  const hash = createHash("sha256").update(JSON.stringify({ trace, failure: r.failure ?? null })).digest("hex");
  return { records: r.records, failure: r.failure, trace, hash };
}

// --- Markdown ---------------------------------------------------------------------------------

/** The Markdown page a kernel developer reads. */
export function renderMarkdown(r: ShrinkReport, design: DesignInfo, file: string): string {
  const name = r.mutant ? `${r.design}/${r.mutant}` : r.design;
  const out: string[] = [];
  out.push(`# ${r.title ?? `${name}: ${r.invariant} — ${r.message}`}`, "");
  out.push(`**Why this matters.** ${whyItMatters[r.invariant]}`, "");
  if (r.explanation) out.push(r.explanation, "");
  out.push(
    `Design \`${name}\` (${design.era}). Found by \`rmapcheck run --design ${name} --seed ${r.found.seed} --runs ${r.found.runs} --max-commands ${r.found.maxCommands}${r.found.swarm ? "" : " --no-swarm"}${r.found.failAlloc ? ` --fail-alloc ${r.found.failAlloc}` : ""}${r.found.interleave ? ` --interleave ${r.found.interleave}` : ""}\` ` +
      `in run ${r.found.runsToFailure}${r.found.chunk !== undefined ? ` of chunk ${r.found.chunk}` : ""} after ${r.found.commandsToFailure} commands; shrunk from ${r.found.foundLength} to ${r.commands.length} commands. ` +
      `Replay: \`rmapcheck replay ${file}\`. Expected outcome when replayed: **${r.expect}**.`,
    "",
  );
  out.push("## The sequence", "", "Essential commands (deleting any one makes the failure go away) are marked ●.", "", "```");
  const essential = new Set(r.essential);
  const opts = sessionOpts(r);
  const s = new Session(design, opts);
  const letters = new Letters();
  let before: string[] = [];
  let after: string[] = [];
  let failure: Violation | undefined;
  let failingSession: Session | undefined;
  r.commands.forEach((cmd, i) => {
    if (failure) return;
    if (i === r.failingStep) before = [...drawLayout(s.kernel, letters), "", ...legend(s.kernel, letters)];
    const res = s.apply(cmd);
    const mark = essential.has(i) ? "●" : " ";
    const outcome = outcomeToString(res.record.kernel);
    out.push(`${mark} ${String(i).padStart(2)}  ${cmdToString(cmd).padEnd(46)} → ${outcome}${res.violation ? `   ✗ ${res.violation.invariant}` : ""}`);
    if (res.violation) {
      failure = res.violation;
      failingSession = s;
      after = [...drawLayout(s.kernel, letters), "", ...legend(s.kernel, letters)];
    }
  });
  if (!failure) {
    before = [...drawLayout(s.kernel, letters), "", ...legend(s.kernel, letters)];
    const end = s.exitAll();
    for (const rec of end.records) out.push(`     ${cmdToString(rec.cmd).padEnd(46)} → ${outcomeToString(rec.kernel)}   (final exit)`);
    failure = end.violation;
    after = [...drawLayout(s.kernel, letters)];
    if (failure) out.push(`  ✗ ${failure.invariant} after every process exited`);
  }
  out.push("```", "");
  out.push(
    "## Address spaces",
    "",
    "vmas as letters over a page ruler (hex page numbers); uppercase = a present PTE, lowercase = not faulted in, `~` = swap entry, `.` = unmapped.",
    "",
    `Before step ${r.failingStep}:`,
    "",
    "```",
    ...before,
    "```",
    "",
    `After step ${r.failingStep}:`,
    "",
    "```",
    ...after,
    "```",
    "",
  );
  out.push("## The divergence", "");
  out.push(`**${r.invariant}**: ${failure?.message ?? r.message}`, "");
  const page = failure?.page ?? r.page;
  if (page) {
    const missed = page.ref.filter((x) => !page.walk.includes(x));
    const extra = page.walk.filter((x) => !page.ref.includes(x));
    out.push(
      `${page.describe[0]?.toUpperCase()}${page.describe.slice(1)}: mapped by {${page.ref.join(", ")}}; the design's walk found {${page.walk.join(", ")}}.`,
    );
    const k = failingSession?.kernel;
    for (const m of missed) out.push(`- missed ${m}${k ? ` — ${whereIs(k, m, page.pfn)}` : ""}`);
    for (const m of extra) out.push(`- reported ${m}, which does not map the page`);
    out.push("");
  } else if (r.expected !== undefined) {
    out.push(`Expected ${r.expected}, the kernel with this design gave ${r.actual}.`, "");
  }
  return `${out.join("\n")}\n`;
}

/** Where a missed mapping lives: its vma, and what the design says about it. */
function whereIs(k: Session["kernel"], key: string, pfn: number): string {
  const m = /^mm(\d+):0x([0-9a-f]+)$/.exec(key);
  if (!m) return "";
  const mm = k.mms.get(Number(m[1]));
  const addr = Number.parseInt(m[2] as string, 16);
  const vma = mm ? findVma(mm, addr) : undefined;
  if (!vma) return "no vma covers it";
  const page = k.pageAt(pfn as never) as Page | null;
  const said = page && k.design.explain ? `; ${k.design.explain(page, vma, addr)}` : "";
  return `vma [0x${vma.vmStart.toString(16)}, 0x${vma.vmEnd.toString(16)}) of mm${vma.mm.id}, pgoff ${vma.vmPgoff}${said}`;
}
