/*
 * The `--json` outputs of run, replay, hunt and compare as zod schemas. The commands type their
 * output with z.infer of these (so the schemas cannot drift from what is printed), and
 * scripts/gen-schemas.mjs turns them, with the shrink report's, into the JSON Schemas in
 * schemas/ (lib/schemas.ts). A version here changes whenever an output changes incompatibly;
 * adding an optional field does not.
 */
import { z } from "zod";
import { requiredMarks } from "../properties/coverage.js";
import { cmdSchema } from "../properties/report-schema.js";

export const OUTPUT_VERSION = 1;

const nat = z.number().int().min(0);
const num = z.number();
const checkId = z.enum(["I1", "I2", "I3", "I4", "I5", "I6", "I7", "I8", "I9", "I10", "I11", "I12", "I13", "I14", "SEMANTIC", "KERNEL"]);
const coverage = z.object(Object.fromEntries(requiredMarks.map((m) => [m, nat])) as Record<(typeof requiredMarks)[number], typeof nat>);
const page = z.object({ pfn: nat, describe: z.string(), ref: z.array(z.string()), walk: z.array(z.string()) });

const stats = z.object({
  commandMix: z.record(z.string(), nat),
  commandsGenerated: nat,
  skipped: nat,
  skipRate: num,
  sequenceLength: z.object({ min: nat, median: nat, p90: nat, max: nat }),
  runs: nat,
  coverage,
});

/** One design's verdict in `rmapcheck run --json`. */
export const runDesignSchema = z.object({
  design: z.string().describe("DESIGN or DESIGN/MUTANT, as given to --design"),
  seed: nat.describe("the master seed"),
  runs: nat,
  commands: nat.describe("commands executed (skipped ones not counted)"),
  seconds: num,
  commandsPerSecond: num,
  ok: z.boolean().describe("no counterexample and, for a full-size campaign, every coverage mark reached"),
  coverage: coverage.describe("runs that reached each coverage mark"),
  missingCoverage: z.array(z.string()).optional(),
  stats: stats.optional(),
  failure: z
    .object({
      invariant: checkId,
      message: z.string(),
      step: nat.describe("index of the failing command; commands.length = the final exit-all check"),
      chunk: nat.optional(),
      chunkSeed: nat.optional(),
      commands: z.array(cmdSchema).describe("the shrunk sequence as data"),
      syscalls: z.array(z.string()).describe("the shrunk sequence as syscalls"),
      foundLength: nat,
      runsToFailure: nat,
      commandsToFailure: nat,
      page: page.optional(),
      report: z.object({ json: z.string(), md: z.string(), fresh: z.boolean() }).optional(),
    })
    .optional(),
});

/** `rmapcheck run --json`: one object for one design, an array for several. */
export const runOutputSchema = z.union([runDesignSchema, z.array(runDesignSchema)]);

/** One report's verdict in `rmapcheck replay --json`. */
export const replayVerdictSchema = z.object({
  file: z.string(),
  design: z.string(),
  reproduced: z.boolean(),
  invariant: checkId.optional(),
  message: z.string().optional(),
  expect: z.enum(["fail", "pass"]),
  matchesExpect: z.boolean(),
  traceHash: z.string(),
});
export const replayOutputSchema = z.union([replayVerdictSchema, z.array(replayVerdictSchema)]);

const seedOutcome = z.object({
  seed: nat,
  found: z.boolean(),
  seconds: num,
  runs: nat,
  commands: nat,
  shrunkLength: nat.optional(),
  invariant: checkId.optional(),
});

/** `rmapcheck hunt --json` (and hunt.json of --out). */
export const huntOutputSchema = z.object({
  seeds: nat,
  timeLimit: nat,
  mutants: z.array(
    z.object({
      mutant: z.string(),
      id: z.string(),
      title: z.string(),
      seeds: z.array(seedOutcome),
      foundIn: nat,
      secondsMedian: num.optional(),
      secondsWorst: num.optional(),
      commandsMedian: nat.optional(),
      commandsWorst: nat.optional(),
      shrunkMedian: nat.optional(),
      minimalLength: nat.optional().describe("length of the catalogue's known minimal sequence (absent for a design module's mutant)"),
      invariants: z.array(z.string()),
    }),
  ),
  controls: z.array(z.object({ design: z.string(), runs: nat, commands: nat, clean: z.boolean(), failure: z.string().optional() })),
});

const memory = z.object({ ilp32: num, lp64: num });

/** One (design, workload, scale) measurement of `rmapcheck compare --json`. */
export const metricsSchema = z.object({
  design: z.string(),
  workload: z.string(),
  scale: nat,
  commands: nat,
  seconds: num,
  memory: z.object({ final: memory, peak: memory }),
  ptes: nat,
  vmas: nat,
  bytesPerPte: memory,
  bytesPerVma: memory,
  objectsAtFork: nat,
  objectsAtFault: nat,
  objectsAllocated: nat,
  forks: nat,
  forkRmapOpsPerFork: num,
  walks: nat,
  vmasVisitedPerWalk: num,
  ptesCheckedPerWalk: num,
  mmsVisitedPerWalk: num,
  pagesReclaimed: nat,
  forcedCopies: nat,
  folio: z.object({ folios: nat, bytesPerFolio: nat, writesPerMappingOp: num }).optional(),
  verdict: z.object({
    ok: z.boolean(),
    invariant: z.string().optional(),
    message: z.string().optional(),
    checkpoints: nat,
    pagesPerCheckpoint: nat,
  }),
});
export const compareOutputSchema = z.array(metricsSchema);

export type RunDesignOutput = z.infer<typeof runDesignSchema>;
export type ReplayVerdict = z.infer<typeof replayVerdictSchema>;
export type HuntOutput = z.infer<typeof huntOutputSchema>;
export type MetricsOutput = z.infer<typeof metricsSchema>;
