import fs from "node:fs";
import {fileURLToPath} from "node:url";

/** icon2's version, from its package.json (one level above src/ and dist/). */
export const icon2Version: string = (JSON.parse(fs.readFileSync(fileURLToPath(new URL("../package.json", import.meta.url)), "utf8")) as {version: string}).version;
