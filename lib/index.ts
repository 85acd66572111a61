/*
 * rmapcheck as a library: `import { checkDesign, type DesignInfo } from "rmapcheck"`.
 *
 * What a design author needs (the RmapDesign hooks, the kernel's structures, slabs, the
 * i_mmap structures), the property runner and its one-plan form for fast-check's runners,
 * commands and shrink reports, the built-in designs and the mutant catalogue. The vitest
 * matcher is a separate entry, `rmapcheck/vitest`. docs/api.md walks through an example.
 */

// --- writing a design (impl/design.ts, docs/designs.md) ---
export { type AnonAdd, Counters, type DesignInfo, type RmapDesign, setVmaRange } from "../impl/design.js";
export type { Kernel, SwapEntry } from "../impl/kernel.js";
export {
  File,
  type IMmap,
  Mm,
  Page,
  type Pfn,
  type Pgoff,
  type PresentPte,
  type Pte,
  type SwapPte,
  type SwapSlot,
  Vma,
  type Vpn,
  PG_anon,
  PG_dirty,
  PG_locked,
  PG_swapcache,
  VM_LOCKED,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  hexa,
  linearPageIndex,
  vmaAddress,
} from "../impl/types.js";
export { type Memory, Slab, type SlabUsage, type StructSize } from "../impl/slab.js";
export { type InvariantId, InvariantError, UseAfterFreeError, assert, fail, isFreed, poison } from "../impl/assert.js";
export { findVma, isShared, nextVma, prevVma, vmasIn } from "../impl/mmap.js";
// The structures a design may keep i_mmap or its anon objects in.
export { IMmapList } from "../impl/structures/immap-list.js";
export { IMmapIntervalTree, IMmapPrioTree } from "../impl/structures/immap-trees.js";
export { type Interval, IntervalTree } from "../impl/structures/interval-tree.js";
export { PrioTree } from "../impl/structures/prio-tree.js";

// --- the built-in designs and the mutant catalogue ---
export { designs, findDesign } from "../impl/designs/index.js";
export { type MutantEntry, catalogue, findMutant, mutantLabel } from "../impl/mutants/catalogue.js";

// --- commands, the model's world, sequences ---
export { type Cmd, type MapKind, type Op, type Outcome, type Prot, allOps, cmdToString, outcomeToString } from "../model/commands.js";
export { type World, defaultWorld } from "../model/world.js";
export { type Failure, Session, type SequenceResult, type SessionOptions, type StepRecord, runSequence } from "../properties/interpreter.js";
export type { CheckId, Violation } from "../properties/checks.js";
export { type Mark, requiredMarks } from "../properties/coverage.js";

// --- the property runner ---
export type { Counterexample, PropertyOptions, PropertyResult } from "../properties/property.js";
export { type CheckOptions, type CheckResult, DEFAULT_CHECK_RUNS, checkDesign, formatResult, writeShrinkReport } from "./check.js";
export { PlanFailure, type PlanCheckOptions, assertPlan, plans } from "./plans.js";
export type { Plan } from "../properties/generate.js";

// --- shrink reports and the JSON outputs ---
export { type ReportOptions, buildReport, renderMarkdown, replay, reportFileStem, whyItMatters } from "../properties/report.js";
export { REPORT_SCHEMA, REPORT_VERSION, type ShrinkReport, cmdSchema, reportSchema } from "../properties/report-schema.js";
export { loadReport, parseReport } from "../cli/reports.js";
/** What loadReport and parseReport throw for bad input (a one-line message). */
export { UsageError } from "../cli/errors.js";
