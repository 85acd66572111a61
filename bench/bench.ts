/*
 * `npm run bench`: commands/second of the property loop, per design, with a fixed seed.
 * Each design runs three times on the same sequences: every checker after every step (full);
 * incremental checks with a full check every 16 steps (what `run --check-every 16` does); and
 * the per-step checks off (checkers only at exits). The ratios show what checking costs.
 *
 *   npm run bench                 all designs, 1000 runs each
 *   npm run bench -- scan 2000    one design, 2000 runs
 */
import { designs } from "../impl/designs/index.js";
import { checkDesign } from "../properties/property.js";

const [only, runsArg] = process.argv.slice(2);
const runs = Number(runsArg ?? 1000);
const seed = 42;
const picked = only && only !== "all" ? designs.filter((d) => d.name === only) : designs;
if (picked.length === 0) {
  console.error(`bench: unknown design '${only}'`);
  process.exit(2);
}

/** Best of `repeats` timings of the same runs: the least disturbed by GC and other load. */
const repeats = 3;
function measure(design: (typeof designs)[number], checkEvery: number, incremental: boolean) {
  let best = Number.POSITIVE_INFINITY;
  let r = checkDesign({ design, seed, runs: 1, shrink: false });
  for (let i = 0; i < repeats; i++) {
    const t0 = process.hrtime.bigint();
    r = checkDesign({ design, seed, runs, checkEvery, incremental, shrink: false });
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return { commands: r.commands, seconds: best, rate: r.commands / best, ok: r.ok };
}

// Warm the JIT on the shared kernel code so the first design is not measured cold.
for (const design of picked.slice(0, 2)) checkDesign({ design, seed: seed + 1, runs: 300, shrink: false });
console.log(`bench: seed ${seed}, ${runs} runs per design, best of ${repeats}, node ${process.version}`);
const cols = ["design".padEnd(22), "commands".padStart(9), "full cmd/s".padStart(11), "incr cmd/s".padStart(11), "off cmd/s".padStart(10), "full/off".padStart(9), "incr/off".padStart(9)];
console.log(cols.join(" "));
for (const design of picked) {
  const full = measure(design, 1, false);
  const incr = measure(design, 16, true);
  const off = measure(design, 1_000_000, false);
  const verdict = full.ok ? "" : "  (counterexample found: rates cover the runs up to it, no shrinking)";
  const n = (x: number, w: number) => Math.round(x).toString().padStart(w);
  console.log(
    [
      design.name.padEnd(22),
      String(full.commands).padStart(9),
      n(full.rate, 11),
      n(incr.rate, 11),
      n(off.rate, 10),
      (full.rate / off.rate).toFixed(2).padStart(9),
      (incr.rate / off.rate).toFixed(2).padStart(9),
    ].join(" ") + verdict,
  );
}
