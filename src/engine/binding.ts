// Loads the native addon built by scripts/build-addon.mjs, choosing the backend variant.
// Only one variant can live in a process (they share global llama.cpp state), so the first choice sticks.
import fs from "node:fs";
import path from "node:path";
import {createRequire} from "node:module";
import {fileURLToPath} from "node:url";
import {nativeSourceHash} from "../../scripts/native-hash.mjs";
import type {AddonBinding} from "./addon-types.js";

export type GpuChoice = "auto" | "cuda" | "vulkan" | "metal" | false;

export interface BuildInfo {
    variant: string;
    source: "prebuilt" | "source";
    gpu: "cuda" | "vulkan" | "metal" | false;
    bins: string | null;
    addon: string;
    /** `nativeSourceHash` of the sources it was built from (absent in builds older than the check) */
    nativeHash?: string;
}

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const require = createRequire(import.meta.url);

let loaded: {binding: AddonBinding; build: BuildInfo; requested: GpuChoice} | undefined;

function builtVariants(): BuildInfo[] {
    const dir = path.join(projectRoot, "build");
    if (!fs.existsSync(dir))
        return [];
    const out: BuildInfo[] = [];
    for (const name of fs.readdirSync(dir).sort()) {
        const file = path.join(dir, name, "icon2-build.json");
        if (!fs.existsSync(file))
            continue;
        const info = JSON.parse(fs.readFileSync(file, "utf8")) as BuildInfo;
        if (fs.existsSync(info.addon))
            out.push(info);
    }
    return out;
}

/** Whether this machine looks able to run a GPU backend (cheap checks; no library is loaded). */
function gpuLikelyPresent(gpu: "cuda" | "vulkan" | "metal"): boolean {
    if (gpu === "metal")
        return process.platform === "darwin" && process.arch === "arm64";
    if (gpu === "cuda")
        return fs.existsSync("/proc/driver/nvidia/version") || (process.platform === "win32" && !!process.env.CUDA_PATH);
    const vulkanLoaders = ["/usr/lib/x86_64-linux-gnu/libvulkan.so.1", "/usr/lib/aarch64-linux-gnu/libvulkan.so.1", "/usr/lib64/libvulkan.so.1", "/usr/lib/libvulkan.so.1"];
    return vulkanLoaders.some((f) => fs.existsSync(f)) && fs.existsSync("/dev/dri");
}

const rebuildHint = (v: BuildInfo) => v.source === "source"
    ? `ICON2_BUILD=source${v.gpu ? ` ICON2_GPU=${v.gpu}` : ""} npm run build:addon`
    : "npm run build:addon";

/**
 * The build to load for `gpu`. Builds made from other native sources than the ones beside them are
 * skipped (named in the error when nothing else is left). Among builds of the same backend, one
 * compiled from source wins over node-llama-cpp's prebuilt library: it exists because someone built
 * it for this machine (on CPU it runs ~1.5–2× faster, see README).
 */
export function pickVariant(gpu: GpuChoice, all: readonly BuildInfo[], currentHash: string, present: (gpu: "cuda" | "vulkan" | "metal") => boolean = gpuLikelyPresent): BuildInfo {
    const stale = all.filter((v) => v.nativeHash !== currentHash);
    const staleNote = stale.length === 0 ? "" :
        `; built from other native sources (rebuild them): ${stale.map((v) => `${v.variant} (${rebuildHint(v)})`).join(", ")}`;
    // ICON2_VARIANT=<name> (e.g. "source") forces one build, as CI does to test the from-source addon
    const forced = process.env.ICON2_VARIANT;
    if (forced) {
        const v = all.find((b) => b.variant === forced);
        if (!v)
            throw new Error(`ICON2_VARIANT=${forced}, but that addon is not built; built: ${all.map((b) => b.variant).join(", ") || "none"}`);
        if (v.nativeHash !== currentHash)
            throw new Error(`ICON2_VARIANT=${forced}: that addon was built from other native sources than these; rebuild it with ${rebuildHint(v)}`);
        return v;
    }
    const variants = all.filter((v) => v.nativeHash === currentHash);
    const ofKind = (kind: BuildInfo["gpu"]) =>
        variants.filter((v) => v.gpu === kind).sort((a, b) => Number(b.source === "source") - Number(a.source === "source"))[0];
    const cpu = ofKind(false);
    if (gpu === false) {
        if (!cpu)
            throw new Error(`no CPU build of the icon2 addon in ${path.join(projectRoot, "build")}; run npm install (or npm run build:addon)${staleNote}`);
        return cpu;
    }
    if (gpu === "auto") {
        for (const kind of ["cuda", "metal", "vulkan"] as const) {
            const v = ofKind(kind);
            if (v && present(kind))
                return v;
        }
        if (cpu)
            return cpu;
        if (variants.length > 0)
            return variants[0];
        throw new Error(`the icon2 addon is not built (no current ${path.join(projectRoot, "build")}/*/icon2-build.json); run npm install${staleNote}`);
    }
    const v = ofKind(gpu);
    if (!v)
        throw new Error(`no ${gpu} build of the icon2 addon; built: ${variants.map((b) => b.variant).join(", ") || "none"}. ` +
            `Install node-llama-cpp's @node-llama-cpp/*-${gpu} package or build from source with ICON2_BUILD=source ICON2_GPU=${gpu} npm run build:addon${staleNote}`);
    return v;
}

/** llama.cpp log levels (ggml_log_level): 0 none … 4 error. */
export const LogLevel = {none: 0, debug: 1, info: 2, warn: 3, error: 4} as const;

export function loadBinding(gpu: GpuChoice = false): {binding: AddonBinding; build: BuildInfo} {
    if (loaded) {
        if (loaded.requested !== gpu && !(gpu === "auto" || loaded.requested === "auto") && loaded.build.gpu !== gpu)
            throw new Error(`the ${loaded.build.variant} backend is already loaded in this process; cannot switch to gpu: ${gpu}`);
        return loaded;
    }
    const variants = builtVariants();
    const currentHash = nativeSourceHash(projectRoot);
    const build = pickVariant(gpu, variants, currentHash);
    for (const v of variants.filter((b) => b.nativeHash !== currentHash))
        process.emitWarning(`icon2: skipped the ${v.variant} addon build, made from other native sources; rebuild it with ${rebuildHint(v)}`, {code: "ICON2_STALE_BUILD"});
    const binding = require(build.addon) as AddonBinding;
    const level = process.env.ICON2_LLAMA_LOG ? (LogLevel[process.env.ICON2_LLAMA_LOG as keyof typeof LogLevel] ?? LogLevel.info) : LogLevel.none;
    binding.init(build.bins ?? undefined, level);
    loaded = {binding, build, requested: gpu};
    return loaded;
}
