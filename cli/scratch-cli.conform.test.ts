import { it, vi } from "vitest";
import { main } from "./main-conform-scratch.js";
async function cli(...args: string[]) {
  const out: string[] = []; const err: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((...a) => void out.push(a.join(" ")));
  const error = vi.spyOn(console, "error").mockImplementation((...a) => void err.push(a.join(" ")));
  try { const code = await main(args); return { code, out: out.join("\n"), err: err.join("\n") }; } finally { log.mockRestore(); error.mockRestore(); }
}
it("cli", async () => {
  const args = (process.env.ARGS ?? "").split(" ");
  const t0 = Date.now();
  const r = await cli(...args);
  console.info(args.join(" "), "→ exit", r.code, "in", (Date.now() - t0) / 1000, "s\n", r.out, "\nERR:", r.err);
});
