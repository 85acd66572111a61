/*
 * The shrink report's JSON schema (version 1), validated on load with zod. A report is data:
 * the command list itself, not a generator replay path, so it outlives generator changes.
 */
import { z } from "zod";

export const REPORT_SCHEMA = "rmapcheck-shrink-report";
export const REPORT_VERSION = 1;

const int = z.number().int();
const nat = int.min(0);
const prot = z.enum(["r", "rw"]);
const range = { mm: nat, addr: nat, len: int };
/** A command's failure point (model/commands.ts); absent in reports older than it. */
const mayFail = { failAlloc: int.min(1).optional() };
/** Interleaving mode's race (model/commands.ts Race); absent in reports older than it. */
const race = z
  .object({
    walker: z.enum(["migrate", "swapout", "referenced", "write", "read"]),
    mm: nat,
    addr: nat,
    token: int.optional(),
    schedule: z.array(int.min(0).max(1)),
  })
  .optional();

export const cmdSchema = z.discriminatedUnion("op", [
  z.object({
    op: z.literal("mmap"),
    ...range,
    kind: z.enum(["anon", "private-file", "shared-file"]),
    prot,
    fixed: z.boolean(),
    file: nat.optional(),
    pgoff: int.optional(),
    ...mayFail,
  }),
  z.object({ op: z.literal("munmap"), ...range, race, ...mayFail }),
  z.object({ op: z.literal("mprotect"), ...range, prot, ...mayFail }),
  z.object({
    op: z.literal("mremap"),
    ...range,
    newLen: int,
    maymove: z.boolean(),
    fixed: z.boolean(),
    newAddr: nat.optional(),
    race,
  }),
  z.object({ op: z.literal("madvise"), ...range, advice: z.literal("dontneed") }),
  z.object({ op: z.literal("mlock"), ...range, ...mayFail }),
  z.object({ op: z.literal("munlock"), ...range, ...mayFail }),
  z.object({ op: z.literal("fork"), mm: nat, child: nat, race, ...mayFail }),
  z.object({ op: z.literal("exit"), mm: nat }),
  z.object({ op: z.literal("exec"), mm: nat, args: z.array(int), race }),
  z.object({ op: z.literal("read"), mm: nat, addr: nat, ...mayFail }),
  z.object({ op: z.literal("write"), mm: nat, addr: nat, token: int, ...mayFail }),
  z.object({ op: z.literal("truncate"), file: nat, size: int, race }),
  z.object({ op: z.literal("swapout"), mm: nat, addr: nat }),
  z.object({ op: z.literal("migrate"), mm: nat, addr: nat, ...mayFail }),
  z.object({ op: z.literal("reclaim"), pages: nat }),
]);

const checkId = z.enum(["I1", "I2", "I3", "I4", "I5", "I6", "I7", "I8", "I9", "I10", "I11", "I12", "I13", "I14", "SEMANTIC", "KERNEL"]);

export const reportSchema = z.object({
  schema: z.literal(REPORT_SCHEMA),
  version: z.literal(REPORT_VERSION),
  harness: z.object({ name: z.literal("rmapcheck"), version: z.string() }),
  design: z.string().min(1),
  mutant: z.string().optional(),
  quirks: z.array(z.string()).optional(),
  title: z.string().optional(),
  explanation: z.string().optional(),
  found: z.object({
    /** The master seed of the campaign (rmapcheck run --seed). */
    seed: nat,
    /** The campaign chunk that failed (its seed derives from the master: cli/campaign.ts). */
    chunk: nat.optional(),
    runs: nat,
    maxCommands: nat,
    swarm: z.boolean(),
    /** run --fail-alloc, if the campaign injected allocation failures. */
    failAlloc: z.number().gt(0).max(1).optional(),
    interleave: z.number().gt(0).max(1).optional(),
    runsToFailure: nat,
    commandsToFailure: nat,
    foundLength: nat,
  }),
  world: z.object({
    vpnLimit: int,
    mmapBase: int,
    fileCount: int,
    fileInitialPages: int,
    fileMaxPages: int,
    frameCount: int,
    mmLiveMax: int,
    /** The folio designs' world (model/world.ts): kept so that a loaded report replays in it. */
    folioOrder: int.optional(),
    mthpOrders: z.array(int).readonly().optional(),
    fileFolios: z.boolean().optional(),
  }),
  commands: z.array(cmdSchema),
  failingStep: nat,
  invariant: checkId,
  message: z.string(),
  expected: z.string().optional(),
  actual: z.string().optional(),
  page: z.object({ pfn: nat, describe: z.string(), ref: z.array(z.string()), walk: z.array(z.string()) }).optional(),
  essential: z.array(nat),
  expect: z.enum(["fail", "pass"]),
  /**
   * The step-by-step record `rmapcheck view` draws (properties/timeline.ts Timeline): per step
   * the syscall and both outcomes, every mm's vmas and PTEs, the model's view, the design's
   * rmap graph and every mapped page's walk against Ref(X). Written with the report, so the
   * report carries the history it shows; reports written before it existed are replayed.
   */
  timeline: z.looseObject({ frames: z.array(z.looseObject({})) }).optional(),
});

export type ShrinkReport = z.infer<typeof reportSchema>;
