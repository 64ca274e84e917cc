// Which addon build loads: current builds only, a source build before a prebuilt one of the same
// backend, ICON2_VARIANT forcing one, and errors that say what to rebuild.
import {afterEach, describe, expect, it} from "vitest";
import {pickVariant, type BuildInfo} from "../../src/engine/binding.js";

const hash = "0123456789abcdef";
/** `nativeHash` null: a build from before the check, without the field */
const build = (variant: string, source: BuildInfo["source"], gpu: BuildInfo["gpu"], nativeHash: string | null = hash): BuildInfo =>
    ({variant, source, gpu, bins: source === "prebuilt" ? `/bins/${variant}` : null, addon: `/build/${variant}/icon2.node`, ...(nativeHash === null ? {} : {nativeHash})});
const prebuiltCpu = build("linux-x64", "prebuilt", false);
const prebuiltCuda = build("linux-x64-cuda", "prebuilt", "cuda");
const sourceCpu = build("source", "source", false);
const noGpu = () => false;
const cudaPresent = (gpu: string) => gpu === "cuda";

describe("pickVariant", () => {
    const saved = process.env.ICON2_VARIANT;
    afterEach(() => {
        if (saved === undefined)
            delete process.env.ICON2_VARIANT;
        else
            process.env.ICON2_VARIANT = saved;
    });

    it("prefers a source build of the same backend over the prebuilt one, in any listing order", () => {
        delete process.env.ICON2_VARIANT;
        expect(pickVariant(false, [prebuiltCpu, sourceCpu], hash, noGpu)).toBe(sourceCpu);
        expect(pickVariant(false, [sourceCpu, prebuiltCpu], hash, noGpu)).toBe(sourceCpu);
        expect(pickVariant("auto", [prebuiltCpu, prebuiltCuda, sourceCpu], hash, noGpu)).toBe(sourceCpu);
        // a GPU that is present still wins under auto
        expect(pickVariant("auto", [prebuiltCpu, prebuiltCuda, sourceCpu], hash, cudaPresent)).toBe(prebuiltCuda);
        expect(pickVariant("cuda", [prebuiltCpu, prebuiltCuda], hash, noGpu)).toBe(prebuiltCuda);
    });

    it("skips builds made from other native sources (or older than the check), falling back to current ones", () => {
        delete process.env.ICON2_VARIANT;
        const staleSource = build("source", "source", false, "ffffffffffffffff");
        const unmarked = build("source", "source", false, null);
        expect(pickVariant(false, [prebuiltCpu, staleSource], hash, noGpu)).toBe(prebuiltCpu);
        expect(pickVariant(false, [prebuiltCpu, unmarked], hash, noGpu)).toBe(prebuiltCpu);
    });

    it("says what to rebuild when nothing current is left", () => {
        delete process.env.ICON2_VARIANT;
        const stale = [build("linux-x64", "prebuilt", false, "ffffffffffffffff"), build("source-cuda", "source", "cuda", "ffffffffffffffff")];
        expect(() => pickVariant(false, stale, hash, noGpu)).toThrow(
            /no CPU build of the icon2 addon .*; built from other native sources \(rebuild them\): linux-x64 \(npm run build:addon\), source-cuda \(ICON2_BUILD=source ICON2_GPU=cuda npm run build:addon\)$/);
        expect(() => pickVariant("auto", stale, hash, noGpu)).toThrow(/the icon2 addon is not built .*rebuild them/);
        expect(() => pickVariant("vulkan", [prebuiltCpu], hash, noGpu)).toThrow(/no vulkan build of the icon2 addon; built: linux-x64\. /);
    });

    it("ICON2_VARIANT forces a build, and refuses a stale or missing one", () => {
        process.env.ICON2_VARIANT = "linux-x64";
        expect(pickVariant(false, [prebuiltCpu, sourceCpu], hash, noGpu)).toBe(prebuiltCpu);
        process.env.ICON2_VARIANT = "source";
        expect(() => pickVariant(false, [prebuiltCpu, build("source", "source", false, "ffffffffffffffff")], hash, noGpu))
            .toThrow("ICON2_VARIANT=source: that addon was built from other native sources than these; rebuild it with ICON2_BUILD=source npm run build:addon");
        process.env.ICON2_VARIANT = "source-vulkan";
        expect(() => pickVariant(false, [prebuiltCpu], hash, noGpu)).toThrow("ICON2_VARIANT=source-vulkan, but that addon is not built; built: linux-x64");
    });
});
