/*
 * The CLI as its tests meet it: main() in-process, with console output and stderr captured.
 * Shared by cli.test.ts, view.test.ts and design-module.test.ts; not part of the build
 * (tsconfig.build.json leaves it out).
 */
import { vi } from "vitest";
import { main } from "./main.js";

export async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((...a) => void out.push(a.join(" ")));
  const error = vi.spyOn(console, "error").mockImplementation((...a) => void err.push(a.join(" ")));
  const write = vi.spyOn(process.stderr, "write").mockImplementation((s) => {
    err.push(String(s));
    return true;
  });
  try {
    const code = await main(args);
    return { code, out: out.join("\n"), err: err.join("").trim() };
  } finally {
    log.mockRestore();
    error.mockRestore();
    write.mockRestore();
  }
}
