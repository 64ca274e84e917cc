// Where tests find the models and data that live beside the project (never copied into it).
import fs from "node:fs";
import path from "node:path";
import {fileURLToPath} from "node:url";

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const sharedDir = path.resolve(projectRoot, "..", "shared");
export const stories260K = path.join(sharedDir, "models", "stories260K.gguf");
export const sharedInstructions = path.join(sharedDir, "data", "instructions-apache2.jsonl");
/** Per-checkout cache for generated fixtures (tiny random-weight models); outside git. */
export const cacheDir = path.join(projectRoot, "node_modules", ".cache", "icon2");

/**
 * Returns the path when the fixture exists. A missing fixture fails in CI (CI=true) and is reported
 * plainly elsewhere, so a fresh clone outside this setup says what it lacks instead of passing.
 */
export function requireFixture(file: string): string {
    if (fs.existsSync(file))
        return file;
    const message = `test fixture missing: ${file} (expected beside the project in ../shared)`;
    if (process.env.CI === "true")
        throw new Error(message);
    console.warn(message);
    return file;
}

export function fixtureExists(file: string): boolean {
    if (fs.existsSync(file))
        return true;
    if (process.env.CI === "true")
        throw new Error(`test fixture missing: ${file} (expected beside the project in ../shared)`);
    return false;
}
