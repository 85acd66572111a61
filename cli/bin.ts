/* The executable entry point (bin/rmapcheck.js loads the compiled form of this file). */
import { main } from "./main.js";

process.exitCode = await main(process.argv.slice(2));
