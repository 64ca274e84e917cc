// Every CLI command, in the order `icon2 --help` lists them. Each module exports one yargs CommandModule.
import type {CommandModule} from "yargs";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [
];
