/*
 * `rmapcheck hunt`: how strong is the search? For each catalogued mutant, random search (no
 * knowledge of the mutant's known sequence) over N seeds, each with a time limit: found in
 * how many seeds, time and commands to failure, shrunk length against the known minimal
 * length, and the invariant that caught it. The correct designs run as controls and must
 * stay clean.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type MutantEntry, catalogue, findMutant, mutantLabel } from "../impl/mutants/catalogue.js";
import type { CheckId } from "../properties/checks.js";
import { type Counterexample, type PropertyOptions, checkDesign } from "../properties/property.js";
import { CHUNK_RUNS, chunkSeed } from "./campaign.js";
import type { DesignInfo } from "../impl/design.js";
import { findDesign } from "../impl/designs/index.js";
import { loadDesignModules, lookupDesign } from "./design-module.js";
import { barChart } from "./charts.js";
import { EXIT_COUNTEREXAMPLE, EXIT_OK, UsageError } from "./errors.js";
import type { HuntOutput } from "./output-schemas.js";
import { Progress } from "./progress.js";

export interface HuntFlags {
  mutants: string[];
  seeds: number;
  timeLimit: number;
  json: boolean;
  out?: string;
  /** Skip the clean-design controls. */
  controls: boolean;
  /** Modules with the user's own designs (their mutants can be hunted as DESIGN/MUTANT). */
  designModules?: string[];
}

export interface SeedOutcome {
  readonly seed: number;
  readonly found: boolean;
  /** Seconds until the failing run completed (before shrinking). */
  readonly seconds: number;
  readonly runs: number;
  readonly commands: number;
  readonly shrunkLength?: number;
  readonly invariant?: CheckId;
}

export interface HuntRow {
  readonly mutant: string;
  readonly id: string;
  readonly title: string;
  readonly seeds: SeedOutcome[];
  readonly foundIn: number;
  readonly secondsMedian?: number;
  readonly secondsWorst?: number;
  readonly commandsMedian?: number;
  readonly commandsWorst?: number;
  readonly shrunkMedian?: number;
  /** Length of the catalogue's known minimal sequence (absent for a user design's mutant). */
  readonly minimalLength?: number;
  readonly invariants: string[];
}

export interface ControlRow {
  readonly design: string;
  readonly runs: number;
  readonly commands: number;
  readonly clean: boolean;
  readonly failure?: string;
}

const median = (xs: number[]) => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
};

/**
 * Search in chunks of CHUNK_RUNS runs, each with its own seed derived from `seed`, as
 * `run --time-limit` does: fast-check cannot be told to stop early, and one check of a
 * billion runs kept generating (cheap, but not free) plans long after the time was up.
 */
function search(
  opts: Omit<PropertyOptions, "seed" | "runs" | "shouldStop" | "onRun">,
  seed: number,
  budget: { runs: number; seconds: number },
): { runs: number; commands: number; counterexample?: Counterexample; foundAt: number; started: number } {
  const started = Date.now();
  const out = () => Date.now() - started > budget.seconds * 1000;
  let runs = 0;
  let commands = 0;
  let foundAt = 0;
  for (let chunk = 0; runs < budget.runs && !out(); chunk++) {
    const r = checkDesign({
      ...opts,
      seed: chunkSeed(seed, chunk),
      runs: Math.min(CHUNK_RUNS, budget.runs - runs),
      onRun: () => {
        foundAt = Date.now();
      },
      shouldStop: out,
    });
    if (r.counterexample) {
      const cx = { ...r.counterexample, runsToFailure: runs + r.counterexample.runsToFailure, commandsToFailure: commands + r.counterexample.commandsToFailure };
      return { runs: cx.runsToFailure, commands: cx.commandsToFailure, counterexample: cx, foundAt, started };
    }
    runs += r.runs;
    commands += r.commands;
  }
  return { runs, commands, foundAt, started };
}

/** Hunt one mutant with one seed, until found or out of time. */
export function huntOne(m: MutantEntry, seed: number, timeLimit: number, runs = Number.POSITIVE_INFINITY): SeedOutcome {
  const design = lookupDesign(m.design);
  if (!design) throw new UsageError(`catalogue entry ${m.id} names unknown design '${m.design}'`);
  const r = search({ design, mutant: m.mutant, quirks: m.quirks, failAlloc: m.failAlloc, interleave: m.interleave, raceOps: m.raceOps }, seed, { runs, seconds: timeLimit });
  const cx = r.counterexample;
  return {
    seed,
    found: cx !== undefined,
    seconds: Number((((cx ? r.foundAt : Date.now()) - r.started) / 1000).toFixed(3)),
    runs: r.runs,
    commands: r.commands,
    shrunkLength: cx?.commands.length,
    invariant: cx?.failure.invariant,
  };
}

export function summarize(m: MutantEntry, seeds: SeedOutcome[]): HuntRow {
  const found = seeds.filter((s) => s.found);
  const secs = found.map((s) => s.seconds);
  const cmds = found.map((s) => s.commands);
  return {
    mutant: mutantLabel(m),
    id: m.id,
    title: m.title,
    seeds,
    foundIn: found.length,
    secondsMedian: median(secs),
    secondsWorst: secs.length ? Math.max(...secs) : undefined,
    commandsMedian: median(cmds),
    commandsWorst: cmds.length ? Math.max(...cmds) : undefined,
    shrunkMedian: median(found.map((s) => s.shrunkLength ?? 0)),
    ...(m.minimal.length > 0 ? { minimalLength: m.minimal.length } : {}),
    invariants: [...new Set(found.map((s) => s.invariant ?? "?"))],
  };
}

export async function huntCommand(flags: HuntFlags): Promise<number> {
  const user = await loadDesignModules(flags.designModules ?? []);
  // With design modules and no --mutant, hunt every mutant the user's designs declare.
  const entries = flags.mutants.length > 0 ? flags.mutants.map(pick) : user.length > 0 ? user.flatMap(userEntries) : catalogue;
  if (entries.length === 0) throw new UsageError("the design modules' designs declare no mutants to hunt (DesignInfo.mutants)");
  const correctOf = new Map(entries.map((m) => [mutantLabel(m), m.correct]));
  const progress = new Progress();
  const rows: HuntRow[] = [];
  for (const m of entries) {
    const outcomes: SeedOutcome[] = [];
    for (let seed = 1; seed <= flags.seeds; seed++) {
      progress.update(() => `hunt: ${mutantLabel(m)}, seed ${seed}/${flags.seeds}`);
      outcomes.push(huntOne(m, seed, flags.timeLimit));
    }
    rows.push(summarize(m, outcomes));
  }
  const controls: ControlRow[] = [];
  if (flags.controls) {
    // Each correct design gets the largest budget any of its mutants needed (at least 500
    // runs per seed), capped by the time limit.
    for (const name of [...new Set(entries.map((m) => m.correct))]) {
      const design = lookupDesign(name);
      if (!design) continue;
      const budget = Math.max(500, ...rows.filter((r) => correctOf.get(r.mutant) === name).flatMap((r) => r.seeds.map((s) => s.runs)));
      let runs = 0;
      let commands = 0;
      let failure: string | undefined;
      for (let seed = 1; seed <= flags.seeds && !failure; seed++) {
        progress.update(() => `hunt: control ${name}, seed ${seed}/${flags.seeds}`);
        // With allocation failures on if any of its mutants is hunted with them.
        const failAlloc = Math.max(0, ...entries.filter((m) => m.correct === name).map((m) => m.failAlloc ?? 0)) || undefined;
        const interleave = Math.max(0, ...entries.filter((m) => m.correct === name).map((m) => m.interleave ?? 0)) || undefined;
        const r = search({ design, failAlloc, interleave }, seed, { runs: budget, seconds: flags.timeLimit });
        runs += r.runs;
        commands += r.commands;
        if (r.counterexample) failure = `${r.counterexample.failure.invariant}: ${r.counterexample.failure.message} (seed ${seed})`;
      }
      controls.push({ design: name, runs, commands, clean: !failure, failure });
    }
  }
  progress.done();
  const output: HuntOutput = { seeds: flags.seeds, timeLimit: flags.timeLimit, mutants: rows, controls };
  if (flags.json) console.log(JSON.stringify(output, null, 2));
  else printHunt(rows, controls, flags);
  if (flags.out) await writeHunt(flags.out, output, flags);
  const weak = rows.filter((r) => r.foundIn < Math.ceil((4 / 5) * flags.seeds));
  return weak.length === 0 && controls.every((c) => c.clean) ? EXIT_OK : EXIT_COUNTEREXAMPLE;
}

/** A user design's planted mutant, hunted like a catalogue entry (no known minimal sequence). */
function userEntry(design: DesignInfo, mutant: string): MutantEntry {
  return {
    id: "U",
    design: design.name,
    mutant,
    correct: design.name,
    title: `${design.name} built with its mutant '${mutant}'`,
    story: `A mutant declared by the design module's design '${design.name}'.`,
    invariants: [],
    minimal: [],
    quick: false,
  };
}

const userEntries = (d: DesignInfo): MutantEntry[] => (d.mutants ?? []).map((m) => userEntry(d, m));

function pick(name: string): MutantEntry {
  const m = findMutant(name);
  if (m) return m;
  const [designName, mutant, ...rest] = name.split("/");
  const design = lookupDesign(designName ?? "");
  if (design && !findDesign(design.name) && mutant !== undefined && rest.length === 0) {
    if (!(design.mutants ?? []).includes(mutant)) {
      throw new UsageError(`design '${design.name}' has no mutant '${mutant}' (its mutants: ${(design.mutants ?? []).join(", ") || "none"})`);
    }
    return userEntry(design, mutant);
  }
  throw new UsageError(`unknown mutant '${name}' (known: ${catalogue.map(mutantLabel).join(", ")}, or DESIGN/MUTANT of a --design-module design)`);
}

export function huntTable(rows: HuntRow[], seeds: number): string[] {
  const head = ["id", "mutant", "found", "t median s", "t worst s", "cmds median", "cmds worst", "shrunk", "minimal", "caught by"];
  const fmt = (x: number | undefined) => (x === undefined ? "-" : String(x));
  const body = rows.map((r) => [
    r.id,
    r.mutant,
    `${r.foundIn}/${seeds}`,
    fmt(r.secondsMedian),
    fmt(r.secondsWorst),
    fmt(r.commandsMedian),
    fmt(r.commandsWorst),
    fmt(r.shrunkMedian),
    fmt(r.minimalLength),
    r.invariants.join(",") || "-",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const line = (r: string[]) => r.map((x, i) => (i < 2 ? x.padEnd(widths[i] as number) : x.padStart(widths[i] as number))).join("  ");
  return [line(head), ...body.map(line)];
}

function printHunt(rows: HuntRow[], controls: ControlRow[], flags: HuntFlags): void {
  console.log(`rmapcheck hunt: ${rows.length} mutant(s), seeds 1..${flags.seeds}, ${flags.timeLimit} s per seed; random search only`);
  for (const l of huntTable(rows, flags.seeds)) console.log(`  ${l}`);
  for (const c of controls) {
    console.log(`  control ${c.design}: ${c.runs} runs, ${c.commands} commands: ${c.clean ? "clean" : `FAILED ${c.failure}`}`);
  }
}

async function writeHunt(dir: string, output: HuntOutput, flags: HuntFlags): Promise<void> {
  const rows = output.mutants;
  mkdirSync(dir, { recursive: true });
  // A mutant never found is drawn at the time limit.
  const points = rows.flatMap((r) => [
    { label: r.mutant, group: "median", y: r.secondsMedian ?? flags.timeLimit },
    { label: r.mutant, group: "worst", y: r.foundIn < r.seeds.length ? flags.timeLimit : (r.secondsWorst ?? 0) },
  ]);
  writeFileSync(join(dir, "hunt-time-to-failure.svg"), await barChart("hunt: seconds to failure per seed", "seconds", points));
  writeFileSync(join(dir, "hunt.json"), `${JSON.stringify(output, null, 2)}\n`);
  console.error(`hunt: wrote ${join(dir, "hunt.json")} and hunt-time-to-failure.svg`);
}

export { EXIT_COUNTEREXAMPLE, EXIT_OK };
