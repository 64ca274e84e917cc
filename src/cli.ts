#!/usr/bin/env node
// The icon2 command line: one command per stage, plus run, inspect, generate and sweep.
// Commands turn argv into options for the stage modules; errors become one line and exit code 1.
import yargs, {type CommandModule} from "yargs";
import {hideBin} from "yargs/helpers";
import {commands} from "./commands/index.js";

/** A usage mistake yargs found (unknown flag, bad choice): stops before any command handler runs. */
class UsageError extends Error {}

export async function main(argv: string[]): Promise<number> {
    const parser = yargs(argv)
        .scriptName("icon2")
        .usage("$0 <command> [options]\n\nBuild a DPO preference dataset from a local GGUF chat model with the Icon² method.")
        .strict()
        // a flag given twice keeps its last value instead of becoming an array that no parser expects
        .parserConfiguration({"duplicate-arguments-array": false})
        .demandCommand(1, "give a command; see icon2 --help")
        .recommendCommands()
        .wrap(Math.min(110, process.stdout.columns || 100))
        .fail((message, error) => {
            // throwing (not returning) is what keeps yargs from running the handler anyway
            throw error ?? new UsageError(message);
        })
        .help()
        .version();
    for (const command of commands)
        parser.command(command as CommandModule);
    try {
        await parser.parseAsync();
    } catch (err) {
        if (err instanceof UsageError) {
            process.stderr.write(`icon2: ${err.message}\nRun icon2 --help for usage.\n`);
            return 2;
        }
        process.stderr.write(`icon2: error: ${(err as Error).message}\n`);
        if (process.env.ICON2_DEBUG)
            process.stderr.write(`${(err as Error).stack}\n`);
        return (err as {exitCode?: number}).exitCode ?? 1;
    }
    return (process.exitCode as number | undefined) || 0;
}

main(hideBin(process.argv)).then((code) => {
    process.exitCode = code;
});
