// Every CLI command, in the order `icon2 --help` lists them. Each module exports one yargs CommandModule.
import type {CommandModule} from "yargs";
import {extractCommand} from "./extract.js";
import {inspectCommand} from "./inspect.js";
import {sweepCommand} from "./sweep.js";
import {pairsCommand} from "./pairs.js";
import {generateCommand} from "./generate.js";
import {exportCommand} from "./export.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [
    extractCommand,
    inspectCommand,
    sweepCommand,
    pairsCommand,
    generateCommand,
    exportCommand,
];
