/*
 * rmapcheck's command line. Exit codes: 0 all checks hold, 1 a counterexample was found,
 * 2 usage or input error (one line on stderr, never a stack trace).
 */
import { randomInt } from "node:crypto";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { designs } from "../impl/designs/index.js";
import { EXIT_USAGE, UsageError } from "./errors.js";
import { catalogue, mutantLabel } from "../impl/mutants/catalogue.js";
import { DEFAULT_CONFORM_RUNS, defaultConformMaxCommands } from "../conform/conform.js";
import { compareCommand } from "./compare.js";
import { conformCommand } from "./conform.js";
import { huntCommand } from "./hunt.js";
import { replayCommand } from "./replay.js";
import { loadReport, rerender } from "./reports.js";
import { absoluteModules, knownDesigns, loadDesignModules } from "./design-module.js";
import { resolveDesign } from "./resolve.js";
import { DEFAULT_RUNS, defaultMaxCommands, defaultShrinkBudget, runCommand } from "./run.js";
import { viewCommand } from "./view.js";

function positiveInt(what: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < 1 || !Number.isSafeInteger(Number(v))) {
      throw new InvalidArgumentError(`${what} must be a positive integer`);
    }
    return Number(v);
  };
}

function seedArg(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 0x7fffffff) throw new InvalidArgumentError("the seed must be an integer in [0, 2147483647]");
  return Number(v);
}

function shardArg(v: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(v);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index >= count) throw new InvalidArgumentError("--shard must be i/n with 0 <= i < n");
  return { index, count };
}

/** A probability in (0, 1]. */
function probabilityArg(what: string) {
  return (v: string): number => {
    const p = Number(v);
    if (!/^(0|1)?(\.\d+)?$/.test(v) || !(p > 0 && p <= 1)) throw new InvalidArgumentError(`${what} must be a probability in (0, 1]`);
    return p;
  };
}

const collect = (v: string, acc: string[]) => [...acc, v];

/** `--design-module FILE`, repeatable: a JavaScript module exporting the user's own designs. */
const designModuleOption = () =>
  new Option("--design-module <file>", "load designs from a JavaScript module exporting DesignInfo objects (repeatable)")
    .argParser(collect)
    .default([] as string[]);

export function buildProgram(): Command {
  const program = new Command("rmapcheck")
    .description("Property-based verification of Linux reverse-mapping (rmap) designs against a reference model")
    .version("0.1.0")
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(`${str.split("\n")[0]?.trim()}\n`) })
    .showHelpAfterError(false);

  program
    .command("designs")
    .description("list the designs: name, kernel era, summary")
    .addOption(designModuleOption())
    .action(async (opts) => {
      await loadDesignModules(opts.designModule);
      const all = knownDesigns();
      const w = Math.max(...all.map((d) => d.name.length));
      const e = Math.max(...all.map((d) => d.era.length));
      for (const d of all) console.log(`${d.name.padEnd(w)}  ${d.era.padEnd(e)}  ${d.summary}`);
    });

  program
    .command("run")
    .description("run the property suite against designs (DESIGN or DESIGN/MUTANT)")
    .addOption(new Option("-d, --design <name>", "design to check (repeatable)").argParser(collect).default([] as string[]))
    .option("-r, --runs <n>", `random sequences per design (default ${DEFAULT_RUNS}; unbounded with --time-limit)`, positiveInt("--runs"))
    .option("-s, --seed <s>", "master seed (printed; the same seed gives the same run)", seedArg)
    .option("--max-commands <n>", "most commands per sequence", positiveInt("--max-commands"), defaultMaxCommands)
    .option("--no-swarm", "use fixed command weights instead of per-run random ones")
    .option("--fail-alloc <p>", "inject allocation failures: each command that allocates gets a failure point with probability p (swarm: off in some runs)", probabilityArg("--fail-alloc"))
    .option("--interleave [p]", "interleaving mode: each MREMAP_FIXED move, fork, truncate, exec and munmap races a second thread (an rmap walker: migration, swap-out or folio_referenced; or, for a move, fork or truncate, a page fault) with probability p (default 0.5; swarm: off in some runs)", probabilityArg("--interleave"))
    .option("--check-every <n>", "run the full checkers every n steps (always at exits)", positiveInt("--check-every"), 1)
    .option("--shrink-budget <n>", "failing candidates fast-check may try while shrinking, before command-level minimizing", positiveInt("--shrink-budget"), defaultShrinkBudget)
    .option("--time-limit <seconds>", "keep generating until this many seconds have passed (per design)", positiveInt("--time-limit"))
    .option("--workers <n>", "worker threads sharing the campaign", positiveInt("--workers"), 1)
    .option("--shard <i/n>", "run shard i of n of the campaign (0 <= i < n)", shardArg)
    .option("--stats", "print the command mix, sequence lengths, skip rate and coverage")
    .option("--json", "print one JSON object per design")
    .option("--reports <dir>", "directory for shrink reports of counterexamples", "shrink-reports")
    .option("--no-reports", "do not write shrink reports")
    .option("--junit <file>", "also write a JUnit XML report (one testcase per design)")
    .addOption(designModuleOption())
    .action(async (opts) => {
      const user = await loadDesignModules(opts.designModule);
      // With design modules and no --design, run the module's designs.
      const defaults = user.length > 0 ? user : designs;
      const design: string[] = opts.design.length > 0 ? opts.design : defaults.map((d) => d.name);
      const seed: number = opts.seed ?? randomInt(0, 0x7fffffff);
      process.exitCode = await runCommand({
        design,
        runs: opts.runs ?? (opts.timeLimit ? undefined : DEFAULT_RUNS),
        workers: opts.workers,
        shard: opts.shard ?? { index: 0, count: 1 },
        stats: opts.stats === true,
        seed,
        json: opts.json === true,
        maxCommands: opts.maxCommands,
        swarm: opts.swarm !== false,
        failAlloc: opts.failAlloc,
        interleave: opts.interleave === true ? 0.5 : opts.interleave,
        checkEvery: opts.checkEvery,
        shrinkBudget: opts.shrinkBudget,
        timeLimit: opts.timeLimit,
        reports: opts.reports === false ? undefined : opts.reports,
        junit: opts.junit,
        designModules: absoluteModules(opts.designModule),
      });
    });

  program
    .command("replay")
    .description("re-execute shrink reports from their data (exit 1 if a failure reproduces)")
    .argument("<files...>", "shrink report JSON files")
    .option("-d, --design <name>", "replay the same commands against another design (DESIGN or DESIGN/MUTANT)")
    .option("-q, --quiet", "no per-step trace")
    .option("--json", "print the verdicts as JSON")
    .addOption(designModuleOption())
    .action(async (files: string[], opts) => {
      await loadDesignModules(opts.designModule);
      process.exitCode = replayCommand({ files, design: opts.design, json: opts.json === true, quiet: opts.quiet === true });
    });

  program
    .command("view")
    .description("write one self-contained HTML page that steps through a shrink report in the browser")
    .argument("<file>", "shrink report JSON file")
    .option("-o, --out <page.html>", "where to write the page (default: beside the report, .html)")
    .option("-d, --design <name>", "view the same commands on another design (DESIGN or DESIGN/MUTANT)")
    .action((file: string, opts) => {
      process.exitCode = viewCommand({ file, out: opts.out, design: opts.design });
    });

  program
    .command("compare")
    .description("measure designs side by side on named workloads (cost and verdict)")
    .argument("<designs...>", "designs to compare")
    .addOption(new Option("-w, --workload <name>", "workload (repeatable), or 'all'").argParser(collect).default([] as string[]))
    .addOption(new Option("--scale <n>", "scale (repeatable; default: the workload's own series)").argParser((v: string, acc: number[]) => [...acc, positiveInt("--scale")(v)]).default([] as number[]))
    .option("--json", "print every measurement as JSON")
    .option("--md", "print a Markdown report")
    .option("--out <dir>", "also write compare.md, compare.json and SVG charts into DIR")
    .addOption(designModuleOption())
    .action(async (designsArg: string[], opts) => {
      await loadDesignModules(opts.designModule);
      process.exitCode = await compareCommand({
        designs: designsArg,
        workload: opts.workload,
        scale: opts.scale,
        json: opts.json === true,
        md: opts.md === true,
        out: opts.out,
      });
    });

  program
    .command("hunt")
    .description("random search against each catalogued mutant: found in how many seeds, how fast, how small")
    .addOption(new Option("-m, --mutant <name>", "catalogue entry (id or DESIGN/MUTANT), repeatable; default all").argParser(collect).default([] as string[]))
    .option("--seeds <n>", "seeds per mutant (1..n)", positiveInt("--seeds"), 5)
    .option("--time-limit <seconds>", "search time per mutant per seed", positiveInt("--time-limit"), 60)
    .option("--no-controls", "skip the clean-design control runs")
    .option("--json", "print the results as JSON")
    .option("--out <dir>", "also write hunt.json and an SVG chart into DIR")
    .addOption(designModuleOption())
    .action(async (opts) => {
      process.exitCode = await huntCommand({
        mutants: opts.mutant,
        seeds: opts.seeds,
        timeLimit: opts.timeLimit,
        json: opts.json === true,
        out: opts.out,
        controls: opts.controls !== false,
        designModules: opts.designModule,
      });
    });

  program
    .command("conform")
    .description("check the reference model and the simulated kernel against the real Linux host")
    .option("-r, --runs <n>", `random sequences (default ${DEFAULT_CONFORM_RUNS})`, positiveInt("--runs"), DEFAULT_CONFORM_RUNS)
    .option("-s, --seed <s>", "master seed (printed; the same seed gives the same run)", seedArg)
    .option("-d, --design <name>", "design the simulated kernel runs (DESIGN or DESIGN/MUTANT; default scan)")
    .option("--max-commands <n>", "most commands per sequence", positiveInt("--max-commands"), defaultConformMaxCommands)
    .option("--no-swarm", "use fixed command weights instead of per-run random ones")
    .option("--json", "print one JSON object")
    .option("--reports <dir>", "directory for shrink reports of disagreements", "shrink-reports")
    .option("--no-reports", "do not write shrink reports")
    .option("--replay <files...>", "re-run shrink reports on model, simulated kernel and host instead of searching")
    .action(async (opts) => {
      process.exitCode = await conformCommand({
        design: opts.design,
        runs: opts.runs,
        seed: opts.seed ?? randomInt(0, 0x7fffffff),
        maxCommands: opts.maxCommands,
        swarm: opts.swarm !== false,
        json: opts.json === true,
        reports: opts.reports === false ? undefined : opts.reports,
        replay: opts.replay,
      });
    });

  program
    .command("render")
    .description("regenerate the Markdown of shrink reports from their JSON (after annotating them)")
    .argument("<files...>", "shrink report JSON files")
    .addOption(designModuleOption())
    .action(async (files: string[], opts) => {
      await loadDesignModules(opts.designModule);
      for (const file of files) {
        const report = loadReport(file);
        const spec = resolveDesign(report.mutant ? `${report.design}/${report.mutant}` : report.design);
        console.log(rerender(file, spec.design));
      }
    });

  program
    .command("mutants")
    .description("list the mutant catalogue: id, name, story")
    .action(() => {
      const width = Math.max(48, ...catalogue.map((m) => mutantLabel(m).length + 1));
      for (const m of catalogue) console.log(`${m.id.padEnd(4)} ${mutantLabel(m).padEnd(width)} ${m.title}${m.failAlloc ? " (hunted with --fail-alloc)" : ""}${m.interleave ? " (hunted with --interleave)" : ""}`);
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  process.exitCode = undefined;
  try {
    await program.parseAsync(argv, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; every parse error has already been printed as one line.
      return e.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (e instanceof UsageError) {
      console.error(`rmapcheck: ${e.message}`);
      return EXIT_USAGE;
    }
    throw e;
  }
}
