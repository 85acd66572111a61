/*
 * `run --junit FILE`: the XML a CI system reads. Parsed back (fast-xml-parser) and checked
 * for the JUnit structure: one testsuite, one testcase per design, a failure carrying the
 * broken invariant and the shrunk sequence, the seed among the properties.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { afterEach, describe, expect, it, vi } from "vitest";
import { junitXml } from "./junit.js";
import { main } from "./main.js";

afterEach(() => {
  process.exitCode = undefined;
});

async function quiet(...args: string[]): Promise<number> {
  const log = vi.spyOn(console, "log").mockImplementation(() => {});
  try {
    return await main(args);
  } finally {
    log.mockRestore();
  }
}

const parse = (xml: string) =>
  new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", isArray: (name) => ["testcase", "property"].includes(name) }).parse(xml);

describe("run --junit", () => {
  it("writes one testcase per design; the failing one carries the invariant and the shrunk sequence", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rmapcheck-junit-"));
    const file = join(dir, "out", "junit.xml");
    const code = await quiet("run", "--design", "scan", "--design", "scan/skip-newest-mm", "--runs", "200", "--seed", "3", "--reports", dir, "--junit", file);
    expect(code).toBe(1);
    const xml = readFileSync(file, "utf8");
    expect(XMLValidator.validate(xml)).toBe(true);
    const doc = parse(xml);
    expect(doc.testsuites).toMatchObject({ name: "rmapcheck", tests: "2", failures: "1", errors: "0" });
    const suite = doc.testsuites.testsuite;
    expect(suite).toMatchObject({ name: "rmapcheck run (seed 3)", tests: "2", failures: "1" });
    expect(suite.properties.property).toContainEqual({ name: "seed", value: "3" });
    expect(suite.properties.property).toContainEqual({ name: "runs", value: "200" });
    const [clean, broken] = suite.testcase;
    expect(clean).toMatchObject({ classname: "rmapcheck.run", name: "scan" });
    expect(clean.failure).toBeUndefined();
    expect(Number(clean.time)).toBeGreaterThan(0);
    expect(clean["system-out"]).toMatch(/^scan: 200 runs, \d+ commands; seed 3$/);
    expect(broken.name).toBe("scan/skip-newest-mm");
    expect(broken.failure.type).toBe("I1");
    expect(broken.failure.message).toMatch(/^I1: page pfn \d+ .*the walk missed mm2:0x/);
    const text: string = broken.failure["#text"];
    expect(text).toMatch(/shrunk from \d+ to 3 commands/);
    expect(text).toMatch(/fork\(mm1\) → mm2/);
    expect(text).toMatch(/shrink report: .*scan~skip-newest-mm-I1-[0-9a-f]{8}\.json/);
    expect(text).toMatch(/replay it: rmapcheck replay /);
  });

  it("escapes what XML cannot hold raw", () => {
    const xml = junitXml({
      seed: 1,
      properties: { note: 'a<b & "c"' },
      cases: [{ name: "d<1>", seconds: 0.5, out: "x & y", failure: { type: "I2", message: "<&>", text: "line <1>\nline & 2" } }],
    });
    expect(XMLValidator.validate(xml)).toBe(true);
    const c = parse(xml).testsuites.testsuite.testcase[0];
    expect(c.name).toBe("d<1>");
    expect(c.failure.message).toBe("<&>");
    expect(c.failure["#text"]).toBe("line <1>\nline & 2");
  });
});
