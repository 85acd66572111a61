/*
 * `npm run bench`: commands/second of the property loop, per design, with a fixed seed.
 * Each design runs twice: with every checker after every step, and with the per-step checks
 * off (the checkers then run only at exits), so the cost of checking shows as a ratio.
 *
 *   npm run bench                 all designs, 400 runs each
 *   npm run bench -- scan 2000    one design, 2000 runs
 */
import { designs } from "../impl/designs/index.js";
import { checkDesign } from "../properties/property.js";

const [only, runsArg] = process.argv.slice(2);
const runs = Number(runsArg ?? 400);
const seed = 42;
const picked = only && only !== "all" ? designs.filter((d) => d.name === only) : designs;
if (picked.length === 0) {
  console.error(`bench: unknown design '${only}'`);
  process.exit(2);
}

function measure(design: (typeof designs)[number], checkEvery: number) {
  const t0 = process.hrtime.bigint();
  const r = checkDesign({ design, seed, runs, checkEvery });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return { commands: r.commands, seconds: s, rate: r.commands / s, ok: r.ok };
}

console.log(`bench: seed ${seed}, ${runs} runs per design, node ${process.version}`);
console.log(`${"design".padEnd(22)} ${"commands".padStart(9)} ${"checks on cmd/s".padStart(16)} ${"checks off cmd/s".padStart(17)} ${"on/off".padStart(7)}`);
for (const design of picked) {
  const on = measure(design, 1);
  const off = measure(design, 1_000_000);
  const verdict = on.ok ? "" : "  (counterexample found: rates cover the runs up to it)";
  console.log(
    `${design.name.padEnd(22)} ${String(on.commands).padStart(9)} ${Math.round(on.rate).toString().padStart(16)} ${Math.round(off.rate).toString().padStart(17)} ${(on.rate / off.rate).toFixed(2).padStart(7)}${verdict}`,
  );
}
