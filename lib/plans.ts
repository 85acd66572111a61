/*
 * The property one plan at a time, for fast-check's own runners (`fc.assert`,
 * `@fast-check/vitest`'s `test.prop`): `plans()` is the arbitrary rmapcheck's runner draws from,
 * `assertPlan(design, plan)` resolves and runs one plan and throws a PlanFailure describing
 * the failing sequence as syscalls. fast-check then shrinks the plan itself (without
 * rmapcheck's command-level minimizer: `checkDesign` gives shorter counterexamples).
 */
import type fc from "fast-check";
import { type Cmd, cmdToString } from "../model/commands.js";
import type { DesignInfo } from "../impl/design.js";
import { type Plan, type PlanOptions, planArbitrary } from "../properties/generate.js";
import type { Failure } from "../properties/interpreter.js";
import { type PropertyOptions, defaultMaxCommands, executePlan } from "../properties/property.js";

/** Random plans: command weights (swarm testing) and raw choices resolved against the model. */
export function plans(opts: Partial<PlanOptions> = {}): fc.Arbitrary<Plan> {
  return planArbitrary({ maxCommands: opts.maxCommands ?? defaultMaxCommands, swarm: opts.swarm ?? true });
}

/** A plan broke an invariant: the message names it and lists the sequence as syscalls. */
export class PlanFailure extends Error {
  constructor(
    readonly design: string,
    readonly failure: Failure,
    readonly commands: readonly Cmd[],
  ) {
    const lines = commands.map((c, i) => `  ${String(i).padStart(3)}  ${cmdToString(c)}${i === failure.step ? `   ✗ ${failure.invariant}` : ""}`);
    if (failure.step >= commands.length) lines.push(`  ✗ ${failure.invariant} after every process exited`);
    super(`${design}: ${failure.invariant}: ${failure.message}\n${lines.join("\n")}`);
    this.name = "PlanFailure";
  }
}

export type PlanCheckOptions = Pick<PropertyOptions, "mutant" | "quirks" | "world" | "checkEvery">;

/** Run one plan against `design`; throws PlanFailure if a check fails. */
export function assertPlan(design: DesignInfo, plan: Plan, opts: PlanCheckOptions = {}): void {
  const r = executePlan(plan, { ...opts, design });
  if (r.failure) throw new PlanFailure(opts.mutant ? `${design.name}/${opts.mutant}` : design.name, r.failure, r.commands);
}
