// Every CLI command, in the order `icon2 --help` lists them. Each module exports one yargs CommandModule.
import type {CommandModule} from "yargs";
import {runCommand} from "./run.js";
import {extractCommand} from "./extract.js";
import {inspectCommand} from "./inspect.js";
import {sweepCommand} from "./sweep.js";
import {scoreCommand} from "./score.js";
import {pairsCommand} from "./pairs.js";
import {generateCommand} from "./generate.js";
import {exportCommand} from "./export.js";
import {synthesizeCommand} from "./synthesize.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [
    runCommand,
    extractCommand,
    synthesizeCommand,
    inspectCommand,
    sweepCommand,
    scoreCommand,
    pairsCommand,
    generateCommand,
    exportCommand,
];
