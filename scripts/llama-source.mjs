// Locates the llama.cpp source that node-llama-cpp pins (a git bundle inside the npm package) and
// unpacks it once into a cache folder. Used by the addon build (headers, from-source build), by tests
// (vocab-only GGUF files, chat templates) and by benchmarks. Downloads nothing.
import {execFileSync} from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import {createRequire} from "node:module";
import {fileURLToPath} from "node:url";

const require = createRequire(path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "package.json"));
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Folder of an installed npm package, searched the way Node does (its package.json is not exported). */
export function packageDir(name) {
    for (const base of require.resolve.paths(name) ?? []) {
        const dir = path.join(base, name);
        if (fs.existsSync(path.join(dir, "package.json")))
            return dir;
    }
    throw new Error(`npm package ${name} is not installed; run npm install`);
}

export function nodeLlamaCppDir() {
    return packageDir("node-llama-cpp");
}

export function llamaCppTag() {
    const info = JSON.parse(fs.readFileSync(path.join(nodeLlamaCppDir(), "llama", "llama.cpp.info.json"), "utf8"));
    return info.tag;
}

/** Folder holding the unpacked llama.cpp source of the pinned tag (unpacked on first call). */
export function llamaSourceDir() {
    const tag = llamaCppTag();
    const dir = path.join(projectRoot, "node_modules", ".cache", "icon2", `llama.cpp-${tag}`);
    if (fs.existsSync(path.join(dir, ".icon2-complete")))
        return dir;
    const bundle = path.join(nodeLlamaCppDir(), "llama", "gitRelease.bundle");
    if (!fs.existsSync(bundle))
        throw new Error(`llama.cpp source bundle not found at ${bundle}; reinstall node-llama-cpp`);
    const tmp = `${dir}.tmp-${process.pid}`;
    fs.rmSync(tmp, {recursive: true, force: true});
    fs.mkdirSync(path.dirname(dir), {recursive: true});
    execFileSync("git", ["clone", "--quiet", "-c", "advice.detachedHead=false", bundle, tmp], {stdio: ["ignore", "ignore", "inherit"]});
    fs.writeFileSync(path.join(tmp, ".icon2-complete"), tag + "\n");
    try {
        fs.renameSync(tmp, dir);
    } catch (err) {
        // Another process unpacked it first.
        fs.rmSync(tmp, {recursive: true, force: true});
        if (!fs.existsSync(path.join(dir, ".icon2-complete")))
            throw err;
    }
    return dir;
}

if (process.argv[1] === fileURLToPath(import.meta.url))
    console.log(llamaSourceDir());
