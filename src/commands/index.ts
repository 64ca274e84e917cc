// Every CLI command, in the order `icon2 --help` lists them. Each module exports one yargs CommandModule.
import type {CommandModule} from "yargs";
import {extractCommand} from "./extract.js";
import {inspectCommand} from "./inspect.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [
    extractCommand,
    inspectCommand,
];
