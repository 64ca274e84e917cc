import fs from "node:fs";
import type {CommandModule} from "yargs";
import {accuracyPlotSvg, formatReport, loadDirections, reportDirections} from "../inspect.js";

export const inspectCommand: CommandModule = {
    command: "inspect <path>",
    describe: "Per layer: scale, held-out separation accuracy and cosine between criteria, for a direction file or directory",
    builder: (y) => y
        .positional("path", {type: "string", demandOption: true, describe: "a <criterion>.gguf file or a directory of them"})
        .option("json", {type: "boolean", default: false, describe: "print JSON instead of a table"})
        .option("plot", {type: "string", describe: "write an SVG of accuracy per layer per criterion"}),
    handler: async (argv) => {
        const args = argv as unknown as {path: string; json: boolean; plot?: string};
        const report = reportDirections(await loadDirections(args.path));
        process.stdout.write(args.json ? JSON.stringify(report, null, 2) + "\n" : formatReport(report) + "\n");
        if (args.plot) {
            fs.writeFileSync(args.plot, accuracyPlotSvg(report));
            if (!args.json)
                process.stdout.write(`wrote ${args.plot}\n`);
        }
    }
};
