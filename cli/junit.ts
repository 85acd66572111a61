/*
 * `run --junit FILE`: the run as JUnit XML, the format CI systems (GitHub Actions reporters,
 * GitLab, Jenkins) show natively. One <testsuite> per run, one <testcase> per design; a
 * counterexample is a <failure> whose type is the broken invariant and whose text is the shrunk
 * sequence, a coverage mark never reached is a <failure type="coverage">. fast-xml-parser
 * builds the XML (escaping included).
 */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { XMLBuilder } from "fast-xml-parser";

export interface JunitCase {
  /** The design as the user named it (DESIGN or DESIGN/MUTANT). */
  readonly name: string;
  readonly seconds: number;
  readonly failure?: { readonly type: string; readonly message: string; readonly text: string };
  /** What the run did (runs, commands, seed, report paths). */
  readonly out: string;
}

export interface JunitRun {
  readonly seed: number;
  readonly properties: Readonly<Record<string, string | number | boolean>>;
  readonly cases: readonly JunitCase[];
}

const secs = (s: number) => s.toFixed(3);

export function junitXml(run: JunitRun): string {
  const failures = run.cases.filter((c) => c.failure).length;
  const time = secs(run.cases.reduce((a, c) => a + c.seconds, 0));
  const counts = { "@_tests": run.cases.length, "@_failures": failures, "@_errors": 0, "@_skipped": 0, "@_time": time };
  const doc = {
    "?xml": { "@_version": "1.0", "@_encoding": "UTF-8" },
    testsuites: {
      "@_name": "rmapcheck",
      ...counts,
      testsuite: {
        "@_name": `rmapcheck run (seed ${run.seed})`,
        ...counts,
        properties: {
          property: Object.entries(run.properties).map(([name, value]) => ({ "@_name": name, "@_value": String(value) })),
        },
        testcase: run.cases.map((c) => ({
          "@_classname": "rmapcheck.run",
          "@_name": c.name,
          "@_time": secs(c.seconds),
          ...(c.failure ? { failure: { "@_type": c.failure.type, "@_message": c.failure.message, "#text": c.failure.text } } : {}),
          "system-out": c.out,
        })),
      },
    },
  };
  const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: "@_", format: true, suppressEmptyNode: true, suppressBooleanAttributes: false });
  return builder.build(doc) as string;
}

/** Write atomically (a CI step may read the file while another shard writes its own). */
export function writeJunit(path: string, run: JunitRun): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, junitXml(run));
  renameSync(tmp, path);
}
