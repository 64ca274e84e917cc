// Builds the icon2 addon (`npm install` runs this). Downloads nothing: llama.cpp comes from the npm
// package node-llama-cpp — its prebuilt libraries (@node-llama-cpp/<platform> packages) and its
// pinned source (a git bundle).
//
//   ICON2_BUILD=auto     (default) link every prebuilt variant present (CPU, and CUDA/Vulkan/Metal
//                        when their packages are installed); build from source when the platform has
//                        no prebuilt CPU variant or linking it fails
//   ICON2_BUILD=prebuilt only the prebuilt variants; fail if none links
//   ICON2_BUILD=source   build llama.cpp from the bundled source into the addon (about 5 minutes on
//                        2 cores); ICON2_GPU=cuda|vulkan|metal turns on that backend
//   ICON2_BUILD=skip     build nothing
//
// Output: build/<variant>/icon2.node + build/<variant>/icon2-build.json, read by src/engine/binding.ts.
import {spawnSync} from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {llamaSourceDir, packageDir, projectRoot} from "./llama-source.mjs";
import {nativeSourceHash} from "./native-hash.mjs";

const mode = process.env.ICON2_BUILD ?? "auto";
const jobs = String(Math.max(1, os.availableParallelism?.() ?? os.cpus().length));

function log(message) {
    console.log(`[icon2 build] ${message}`);
}

/** node-llama-cpp's prebuilt packages for this platform, CPU first. */
function prebuiltVariants() {
    const platform = process.platform === "darwin" ? "mac" : process.platform === "win32" ? "win" : process.platform;
    const base = `${platform}-${process.arch}`;
    const candidates = platform === "mac"
        ? [{name: `${base}-metal`, gpu: "metal"}, {name: base, gpu: false}]
        : [{name: base, gpu: false}, {name: `${base}-cuda`, gpu: "cuda"}, {name: `${base}-vulkan`, gpu: "vulkan"}];
    const found = [];
    for (const candidate of candidates) {
        let dir;
        try {
            dir = packageDir(`@node-llama-cpp/${candidate.name}`);
        } catch {
            continue;
        }
        const bins = path.join(dir, "bins", candidate.name);
        if (fs.existsSync(bins))
            found.push({...candidate, bins});
    }
    return found;
}

/** The llama and ggml libraries the addon links; backends (ggml-cpu-*, ggml-cuda) load at run time. */
function linkLibraries(bins) {
    const files = fs.readdirSync(bins);
    const wanted = files.filter((f) =>
        /^(lib)?llama(\.[a-z]+)?\.v[\d.]+\.(so|dylib|lib)$/.test(f) ||
        /^(lib)?ggml(\.[a-z]+)?\.v[\d.]+\.(so|dylib|lib)$/.test(f) ||
        /^(lib)?ggml-base\.(so|dylib|lib)$/.test(f));
    if (!wanted.some((f) => f.includes("llama")) || !wanted.some((f) => f.includes("ggml-base")))
        throw new Error(`no llama/ggml libraries in ${bins}`);
    return wanted;
}

function cmakeJs(outDir, defines) {
    const cli = path.join(packageDir("cmake-js"), "bin", "cmake-js");
    const args = [cli, "build", "--out", outDir, "--parallel", jobs, "--log-level", "warn",
        ...Object.entries(defines).map(([k, v]) => `--CD${k}=${v}`)];
    const result = spawnSync(process.execPath, args, {cwd: projectRoot, stdio: "inherit"});
    return result.status === 0;
}

function writeMetadata(outDir, metadata) {
    const info = {...metadata, nativeHash: nativeSourceHash(projectRoot)};
    fs.writeFileSync(path.join(outDir, "icon2-build.json"), JSON.stringify(info, null, 2) + "\n");
}

function buildPrebuilt(variant, src) {
    const outDir = path.join(projectRoot, "build", variant.name);
    const libs = linkLibraries(variant.bins);
    log(`linking prebuilt llama.cpp (${variant.name}: ${libs.join(", ")})`);
    const started = Date.now();
    const ok = cmakeJs(outDir, {ICON2_LLAMA_SRC: src, ICON2_LLAMA_BINS: variant.bins, ICON2_LLAMA_LIBS: libs.join(";"), CMAKE_BUILD_TYPE: "Release"});
    if (ok) {
        writeMetadata(outDir, {variant: variant.name, source: "prebuilt", gpu: variant.gpu, bins: variant.bins, addon: path.join(outDir, "Release", "icon2.node")});
        log(`built ${variant.name} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
    return ok;
}

function buildFromSource(src) {
    const gpu = process.env.ICON2_GPU && process.env.ICON2_GPU !== "cpu" ? process.env.ICON2_GPU : false;
    const name = `source${gpu ? "-" + gpu : ""}`;
    const outDir = path.join(projectRoot, "build", name);
    const defines = {ICON2_LLAMA_SRC: src, ICON2_FROM_SOURCE: "ON", CMAKE_BUILD_TYPE: "Release"};
    if (gpu === "cuda") defines.GGML_CUDA = "ON";
    if (gpu === "vulkan") defines.GGML_VULKAN = "ON";
    if (gpu === "metal") defines.GGML_METAL = "ON";
    if (gpu && !["cuda", "vulkan", "metal"].includes(gpu))
        throw new Error(`ICON2_GPU must be cuda, vulkan, metal or cpu, got ${gpu}`);
    log(`building llama.cpp from the bundled source (${gpu || "cpu"}); this takes a few minutes`);
    const started = Date.now();
    if (!cmakeJs(outDir, defines))
        return false;
    writeMetadata(outDir, {variant: name, source: "source", gpu, bins: null, addon: path.join(outDir, "Release", "icon2.node")});
    log(`built ${name} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return true;
}

function main() {
    if (mode === "skip")
        return;
    if (!["auto", "prebuilt", "source"].includes(mode))
        throw new Error(`ICON2_BUILD must be auto, prebuilt, source or skip, got ${mode}`);
    const src = llamaSourceDir();
    if (mode === "source") {
        if (!buildFromSource(src))
            throw new Error("building llama.cpp from source failed (see the compiler output above)");
        return;
    }
    const variants = prebuiltVariants();
    let cpuBuilt = false;
    for (const variant of variants) {
        const ok = buildPrebuilt(variant, src);
        if (!ok && variant.gpu)
            log(`warning: could not link the ${variant.name} prebuilt; that backend will not be available`);
        cpuBuilt ||= ok;
    }
    if (cpuBuilt)
        return;
    if (mode === "prebuilt")
        throw new Error(`no prebuilt llama.cpp variant could be linked for ${process.platform}-${process.arch}`);
    log("no prebuilt llama.cpp for this platform could be linked; falling back to a source build");
    if (!buildFromSource(src))
        throw new Error("building llama.cpp from source failed (see the compiler output above)");
}

try {
    main();
} catch (err) {
    console.error(`[icon2 build] error: ${err.message}`);
    process.exit(1);
}
