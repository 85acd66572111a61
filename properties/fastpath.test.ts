/*
 * Why this test? The search loop takes two shortcuts that the rest of rmapcheck does not:
 * it applies the semantic model in place (no immer drafts, no history), and it runs the fast
 * checkers ("detect without explaining") that call the full checker only when something is
 * wrong. Both are only allowed if nothing a user can see changes. So, step by step, a session
 * on the fast path and one on the immer path must give the same outcomes, the same model state
 * and the same violation (invariant and message), and the full checker must agree with the
 * fast one after every step — on every shrink report of the corpus and on random plans, for
 * every design, every design mutant and every kernel quirk of the catalogue.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadReport } from "../cli/reports.js";
import { type Cmd, raceOf } from "../model/commands.js";
import { defaultWorld } from "../model/world.js";
import { Counters } from "../impl/design.js";
import { designs, findDesign } from "../impl/designs/index.js";
import { catalogue } from "../impl/mutants/catalogue.js";
import { ModelCensus, checkAll } from "./checks.js";
import { Resolver, exitOrder, planArbitrary } from "./generate.js";
import { Session, type SessionOptions } from "./interpreter.js";

interface Case {
  readonly label: string;
  readonly design: (typeof designs)[number];
  readonly mutant?: string;
  readonly quirks?: readonly string[];
}

const cases: Case[] = [
  ...designs.flatMap((d) => [undefined, ...(d.mutants ?? [])].map((mutant) => ({ label: mutant ? `${d.name}/${mutant}` : d.name, design: d, mutant }))),
  ...catalogue
    .filter((m) => m.quirks !== undefined)
    .map((m) => ({ label: `${m.design}+${(m.quirks ?? []).join("+")}`, design: findDesign(m.design) as Case["design"], mutant: m.mutant, quirks: m.quirks })),
];

/** The full checker's verdict on a session's current state, without touching its counters. */
function fullVerdict(s: Session) {
  const saved = s.kernel.counters;
  s.kernel.counters = new Counters();
  try {
    return checkAll(s.kernel, s.model);
  } finally {
    s.kernel.counters = saved;
  }
}

type Next = (model: Session["model"], i: number) => Cmd | undefined;

/**
 * Run the commands of `source` on an immer-path session, keeping every state, then on a
 * fast-path session, and compare them after every step (object ids restart with every kernel,
 * so the two sessions run one after the other, not interleaved). `source` makes a fresh
 * command source per session; each sees its own session's model. Returns the steps run.
 */
function lockstep(c: Case, source: () => Next, extra: SessionOptions = {}): number {
  const opts = { mutant: c.mutant, quirks: c.quirks, checkEvery: 1, ...extra };
  const slow = new Session(c.design, { ...opts, history: true });
  const steps: { cmd: Cmd; r: ReturnType<Session["apply"]>; model: Session["model"] }[] = [];
  const nextSlow = source();
  for (let cmd = nextSlow(slow.model, 0); cmd !== undefined; cmd = nextSlow(slow.model, steps.length)) {
    const r = slow.apply(cmd);
    steps.push({ cmd, r, model: slow.model });
    // The fast checker (run by apply) and the full checker agree on the same state.
    const crashed = r.record.kernel.kind === "internal" && r.record.kernel.what === "crashed";
    if (r.record.model.kind !== "skip" && !crashed && r.violation?.invariant !== "SEMANTIC") {
      // A raced command's violation also prints the interleaving (Kernel.lastRaceTrace): not the checker's.
      const trace = raceOf(cmd) && slow.kernel.lastRaceTrace ? `\n${slow.kernel.lastRaceTrace}` : "";
      const checked = r.violation && trace ? { ...r.violation, message: r.violation.message.slice(0, -trace.length) } : r.violation;
      expect(fullVerdict(slow), `${c.label}, step ${steps.length - 1}: full checker`).toEqual(checked);
    }
    if (r.violation) break;
  }
  const fast = new Session(c.design, { ...opts, history: false });
  const nextFast = source();
  steps.forEach((want, i) => {
    const at = `${c.label}, step ${i}`;
    const cmd = nextFast(fast.model, i);
    expect(cmd, at).toEqual(want.cmd);
    const r = fast.apply(want.cmd);
    expect(r.record, at).toEqual(want.r.record);
    expect(r.violation, at).toEqual(want.r.violation);
    expect(fast.model, at).toEqual(want.model);
    // The census the fast semantic check trusts equals a recount from scratch.
    const census = (fast as unknown as { census: ModelCensus }).census;
    const fresh = new ModelCensus(fast.model, fast.world.vpnLimit);
    expect([census.mms, [...census.pages].sort()], at).toEqual([fresh.mms, [...fresh.pages].sort()]);
  });
  return steps.length;
}

describe("the fast path and the immer path agree", () => {
  const dir = join(import.meta.dirname, "..", "shrink-reports");
  const reports = readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => ({ file: f, report: loadReport(join(dir, f)) }));

  it("on every report of the corpus and every known sequence of the catalogue, against every design", () => {
    const corpus = [
      ...reports.map(({ file, report }) => ({ name: file, cmds: report.commands, world: report.world })),
      ...catalogue.map((m) => ({ name: `${m.id}'s known sequence`, cmds: m.minimal, world: undefined })),
    ];
    let steps = 0;
    for (const { name, cmds, world } of corpus) {
      for (const c of cases) steps += lockstep({ ...c, label: `${c.label} on ${name}` }, () => (_m, i) => cmds[i], { world });
    }
    expect(steps).toBeGreaterThan(cases.length * corpus.length * 2);
  });

  for (const c of cases) {
    it(`${c.label}: on 40 random plans, with the final exits`, () => {
      const plans = fc.sample(planArbitrary({ maxCommands: 60, swarm: true }), { seed: 7, numRuns: 40 });
      let steps = 0;
      for (const plan of plans) {
        steps += lockstep(c, () => {
          const resolver = new Resolver(defaultWorld, plan.weights);
          let exits: number[] | undefined;
          return (model, i) => {
            if (i < plan.choices.length) return resolver.resolve(model, plan.choices[i] as (typeof plan.choices)[number]);
            exits ??= exitOrder(Object.keys(model.mms).map(Number), plan.exitSeed);
            const id = exits[i - plan.choices.length];
            return id === undefined ? undefined : { op: "exit", mm: id };
          };
        });
      }
      expect(steps).toBeGreaterThan(400);
    });
  }
});
