// Shared helpers of the benchmarks in bench/: the compiled library, the llama.cpp reference tools
// (built once from the source node-llama-cpp pins), argument parsing, timing and table printing.
//
// Benchmarks compare icon2 with baselines measured in the same run on the same machine, because
// absolute numbers on a shared 2-core machine (other processes, other engineers' tests) drift by
// tens of percent between runs while ratios taken minutes apart drift much less.
import {spawn} from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {pathToFileURL} from "node:url";
import {llamaCppTag, llamaSourceDir, projectRoot} from "../scripts/llama-source.mjs";

export {projectRoot};

/**
 * CPU threads for every measurement, ours and llama.cpp's alike. The reference machine has 2 cores;
 * override with ICON2_BENCH_THREADS on a bigger one (keep both sides equal).
 */
export const benchThreads = Number(process.env.ICON2_BENCH_THREADS || 2);

export function benchCacheDir() {
    const cacheHome = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
    return path.join(cacheHome, "icon2", "bench");
}

/** Imports a module of the compiled library (dist/), with a clear message when it was not built. */
export async function importDist(relative) {
    const file = path.join(projectRoot, "dist", relative);
    if (!fs.existsSync(file))
        throw new Error(`${file} is missing; run \`npm run build:ts\` (or \`npm run bench\`, which builds it)`);
    return import(pathToFileURL(file).href);
}

/** `--name value` / `--name=value` / `--flag` → {name: value}; numbers stay strings. */
export function parseArgs(argv = process.argv.slice(2)) {
    const args = {};
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (!a.startsWith("--"))
            throw new Error(`unexpected argument ${a}`);
        const eq = a.indexOf("=");
        if (eq > 0) {
            args[a.slice(2, eq)] = a.slice(eq + 1);
        } else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) {
            args[a.slice(2)] = argv[++i];
        } else {
            args[a.slice(2)] = true;
        }
    }
    return args;
}

export function intArg(args, name, fallback) {
    if (args[name] === undefined)
        return fallback;
    const n = Number(args[name]);
    if (!Number.isInteger(n) || n < 1)
        throw new Error(`--${name} must be a positive integer, got ${args[name]}`);
    return n;
}

export const now = () => performance.now() / 1000;

/** mulberry32: uniform [0, 1), the same stream for the same seed on every machine. */
export function mulberry32(seed) {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

/** Prints rows (arrays of cells) as a Markdown table, right-aligning everything but the first column. */
export function printTable(header, rows) {
    const cells = [header, ...rows].map((r) => r.map((c) => String(c)));
    const widths = header.map((_, k) => Math.max(...cells.map((r) => r[k].length)));
    const line = (r) => "| " + r.map((c, k) => (k === 0 ? c.padEnd(widths[k]) : c.padStart(widths[k]))).join(" | ") + " |";
    console.log(line(cells[0]));
    console.log("|" + widths.map((w, k) => (k === 0 ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|") + "|");
    for (const r of cells.slice(1))
        console.log(line(r));
}

export const fmt = (x, digits = 1) => (x === null || x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(digits));
export const ratio = (a, b) => (a && b ? a / b : null);

/** Runs a command; resolves {code, stdout, stderr, seconds}. Output also goes to `logFile` when given. */
export function runCommand(command, args, {cwd, logFile, timeoutS, env} = {}) {
    return new Promise((resolve, reject) => {
        const started = now();
        const child = spawn(command, args, {cwd, env: env ?? process.env, stdio: ["ignore", "pipe", "pipe"]});
        const log = logFile ? fs.createWriteStream(logFile, {flags: "a"}) : null;
        let stdout = "", stderr = "", timedOut = false;
        child.stdout.on("data", (d) => {
            stdout += d;
            log?.write(d);
        });
        child.stderr.on("data", (d) => {
            stderr += d;
            log?.write(d);
        });
        const timer = timeoutS ? setTimeout(() => {
            timedOut = true;
            child.kill("SIGTERM");
        }, timeoutS * 1000) : null;
        child.on("error", (err) => {
            if (timer)
                clearTimeout(timer);
            log?.end();
            reject(err);
        });
        child.on("close", (code) => {
            if (timer)
                clearTimeout(timer);
            log?.end();
            resolve({code: timedOut ? null : code, timedOut, stdout, stderr, seconds: now() - started});
        });
    });
}

/** The cmake flags of the reference tools: CPU only, tuned for this CPU like a local llama.cpp build would be. */
const cmakeFlags = [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DGGML_NATIVE=ON",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    // the server, its web UI and the unified binary are not needed and the UI would try to download
    "-DLLAMA_BUILD_SERVER=OFF",
    "-DLLAMA_BUILD_APP=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_CURL=OFF"
];

/**
 * Path of a llama.cpp tool (`llama-batched-bench`, `llama-cvector-generator`) built from the pinned
 * source into ~/.cache/icon2/bench/llama-build, building it on first use (minutes on 2 cores; later
 * runs only check it is up to date). Throws when the build fails or exceeds `timeoutS`; callers fall
 * back to measuring without it and say so.
 */
export async function llamaTool(target, {log = (line) => console.error(line), timeoutS = Number(process.env.ICON2_BENCH_BUILD_TIMEOUT_S || 1800)} = {}) {
    const source = llamaSourceDir();
    const buildDir = path.join(benchCacheDir(), "llama-build");
    const binary = path.join(buildDir, "bin", target);
    const stamp = path.join(buildDir, `.icon2-${target}`);
    const tag = llamaCppTag();
    // a build of this tag already made it: skip cmake entirely (its up-to-date check alone takes seconds)
    if (fs.existsSync(binary) && fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8").trim() === tag)
        return binary;

    fs.mkdirSync(buildDir, {recursive: true});
    const cache = path.join(buildDir, "CMakeCache.txt");
    // a build folder configured for another source tree (an older pinned llama.cpp) cannot be reused
    if (fs.existsSync(cache) && !fs.readFileSync(cache, "utf8").includes(`CMAKE_HOME_DIRECTORY:INTERNAL=${source}\n`))
        fs.rmSync(buildDir, {recursive: true, force: true}), fs.mkdirSync(buildDir, {recursive: true});
    const logFile = path.join(benchCacheDir(), "llama-build.log");
    const started = now();
    log(`building ${target} from llama.cpp ${tag} into ${buildDir} (first time only; several minutes on 2 cores; log: ${logFile})`);
    const generator = fs.existsSync("/usr/bin/ninja") || fs.existsSync("/usr/local/bin/ninja") ? ["-G", "Ninja"] : [];
    if (!fs.existsSync(cache)) {
        const configure = await runCommand("cmake", ["-S", source, "-B", buildDir, ...generator, ...cmakeFlags], {logFile, timeoutS});
        if (configure.code !== 0)
            throw new Error(`cmake configure failed${configure.timedOut ? " (timed out)" : ""}; see ${logFile}`);
    }
    const left = Math.max(1, timeoutS - (now() - started));
    const build = await runCommand("cmake", ["--build", buildDir, "--target", target, "-j", String(Math.max(1, os.availableParallelism()))], {logFile, timeoutS: left});
    if (build.code !== 0 || !fs.existsSync(binary))
        throw new Error(`building ${target} failed${build.timedOut ? ` (over ${timeoutS} s)` : ""}; see ${logFile}`);
    fs.writeFileSync(stamp, tag + "\n");
    log(`built ${target} in ${(now() - started).toFixed(0)} s`);
    return binary;
}

/**
 * The CPU build the addon runs: build/<platform>-<arch>/icon2-build.json as written by
 * scripts/build-addon.mjs (`source: "prebuilt"` with `bins`, node-llama-cpp's prebuilt libraries,
 * or `source: "source"`); null when the addon has no CPU build.
 */
export function addonCpuBuild() {
    const file = path.join(projectRoot, "build", `${process.platform}-${process.arch}`, "icon2-build.json");
    return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : null;
}

/**
 * The ggml CPU variant library this process has loaded (e.g. libggml-cpu-zen4.so), read from
 * /proc/self/maps after a model was loaded; null when none is mapped or not on Linux.
 */
export function loadedCpuVariant() {
    try {
        return /\/(libggml-cpu-[\w.-]+\.so)\s*$/m.exec(fs.readFileSync("/proc/self/maps", "utf8"))?.[1] ?? null;
    } catch {
        return null;
    }
}

/**
 * A llama.cpp tool compiled against the very libraries the addon links (node-llama-cpp's prebuilt
 * llama/ggml/common shared libraries, headers from the pinned source): the like-for-like baseline,
 * since a local GGML_NATIVE build of llama.cpp can be much faster or slower than the prebuilt CPU
 * variants for reasons that have nothing to do with icon2. One or two source files, about a second
 * to compile; cached in ~/.cache/icon2/bench/prebuilt. `tool`: "batched-bench" or
 * "cvector-generator"; the latter calls CPU-backend functions directly, so it also links `cpuVariant`
 * (the variant ggml picked in this process, see loadedCpuVariant). Returns {binary, cwd}: run it
 * with `cwd` = the prebuilt folder, where ggml looks for its CPU variants. Linux only (the prebuilt
 * .so names); throws elsewhere or when compiling fails.
 */
export async function prebuiltTool(tool, {cpuVariant = null, log = (line) => console.error(line)} = {}) {
    const build = addonCpuBuild();
    if (!build || build.source !== "prebuilt" || !build.bins)
        throw new Error("the addon's CPU build does not use node-llama-cpp's prebuilt libraries");
    if (process.platform !== "linux")
        throw new Error(`linking the prebuilt libraries is only scripted for Linux, not ${process.platform}`);
    const bins = build.bins;
    const files = fs.readdirSync(bins);
    const pick = (re) => files.find((f) => re.test(f));
    const libs = [pick(/^libllama-common.*\.so$/), pick(/^libllama(\.v[\d.]+)?\.so$/), pick(/^libggml(\.v[\d.]+)?\.so$/), pick(/^libggml-base.*\.so$/)];
    if (tool === "cvector-generator") {
        if (!cpuVariant || !files.includes(cpuVariant))
            throw new Error(`cvector-generator needs the CPU variant library the addon uses; got ${cpuVariant}`);
        libs.push(cpuVariant);
    }
    if (libs.some((l) => !l))
        throw new Error(`missing llama/ggml/common libraries in ${bins}`);
    const outDir = path.join(benchCacheDir(), "prebuilt");
    const binary = path.join(outDir, `llama-${tool}`);
    const stamp = path.join(outDir, `.icon2-${tool}`);
    const key = `${llamaCppTag()} ${bins} ${libs.join(" ")}`;
    if (fs.existsSync(binary) && fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8").trim() === key)
        return {binary, cwd: bins};
    const src = llamaSourceDir();
    fs.mkdirSync(outDir, {recursive: true});
    log(`compiling llama-${tool} against node-llama-cpp's prebuilt libraries in ${bins}`);
    const dir = path.join(src, "tools", tool);
    const sources = tool === "batched-bench" ? ["main.cpp", "batched-bench.cpp"] : ["cvector-generator.cpp"];
    const cxx = process.env.CXX || "c++";
    const run = await runCommand(cxx, ["-O2", "-std=c++17", "-o", binary, ...sources.map((f) => path.join(dir, f)),
        `-I${dir}`, `-I${path.join(src, "common")}`, `-I${path.join(src, "include")}`, `-I${path.join(src, "ggml", "include")}`, `-I${path.join(src, "vendor")}`,
        `-L${bins}`, ...libs.map((l) => `-l:${l}`), `-Wl,-rpath,${bins}`, "-lpthread"], {timeoutS: 300});
    if (run.code !== 0)
        throw new Error(`compiling llama-${tool} against the prebuilt libraries failed: ${run.stderr.slice(-600)}`);
    fs.writeFileSync(stamp, key + "\n");
    return {binary, cwd: bins};
}

/** llama-batched-bench against the addon's prebuilt libraries (see prebuiltTool). */
export function prebuiltBatchedBench(options) {
    return prebuiltTool("batched-bench", options);
}
