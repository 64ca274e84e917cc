import {defineConfig} from "vitest/config";

export default defineConfig({
    test: {
        include: ["test/**/*.test.ts"],
        // Native decoding on 2 cores: one worker per file keeps the tiny models fast (threads: 1 each).
        pool: "forks",
        maxWorkers: 2,
        testTimeout: 300_000,
        hookTimeout: 600_000,
        globalSetup: ["test/helpers/global-setup.ts"]
    }
});
