// One JSON Schema per export format. They live as TS objects (not .json files) so that `tsc`
// emits them into dist/ with the code that uses them; `JSON.stringify(formatSchemas.trl)` gives the
// plain schema file for other tools.
import {alpacaSchema} from "./alpaca.schema.js";
import {axolotlSchema} from "./axolotl.schema.js";
import {messagesSchema} from "./messages.schema.js";
import {sharegptSchema} from "./sharegpt.schema.js";
import {trlSchema} from "./trl.schema.js";

export {alpacaSchema, axolotlSchema, messagesSchema, sharegptSchema, trlSchema};

export const formatSchemas = {
    trl: trlSchema,
    messages: messagesSchema,
    alpaca: alpacaSchema,
    sharegpt: sharegptSchema,
    axolotl: axolotlSchema
} as const;
