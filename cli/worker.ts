/* A campaign worker thread: runs the chunks the main thread sends, one at a time. */
import { parentPort } from "node:worker_threads";
import { type ChunkJob, runChunk } from "./campaign.js";

const port = parentPort;
if (!port) throw new Error("cli/worker.js must run as a worker thread");
port.on("message", (job: ChunkJob) => {
  const result = runChunk(
    job,
    (runs, commands) => {
      if (runs % 10 === 0) port.postMessage({ type: "progress", runs, commands });
    },
    () => port.postMessage({ type: "failing" }),
  );
  port.postMessage({ type: "done", result });
});
