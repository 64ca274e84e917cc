// Runs the built CLI (dist/cli.js; `npm test` compiles it first) as a child process.
import {spawn, spawnSync} from "node:child_process";
import path from "node:path";
import {projectRoot} from "./paths.js";

export const cliPath = path.join(projectRoot, "dist", "cli.js");

export interface CliResult {
    code: number | null;
    stdout: string;
    stderr: string;
}

export function runCli(args: readonly string[], options: {cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number} = {}): CliResult {
    const r = spawnSync(process.execPath, [cliPath, ...args], {
        cwd: options.cwd ?? projectRoot,
        env: {...process.env, ...options.env},
        encoding: "utf8",
        timeout: options.timeoutMs ?? 300_000
    });
    return {code: r.status, stdout: r.stdout, stderr: r.stderr};
}

/**
 * Starts the CLI and SIGKILLs it once `shouldKill` says so (polled), like a crash would.
 * Resolves with whether it was killed before it finished by itself.
 */
export function runCliUntil(args: readonly string[], shouldKill: () => boolean, options: {pollMs?: number} = {}): Promise<{killed: boolean; code: number | null}> {
    return new Promise((resolve) => {
        const child = spawn(process.execPath, [cliPath, ...args], {cwd: projectRoot, stdio: "ignore"});
        let killed = false;
        const timer = setInterval(() => {
            if (!killed && shouldKill()) {
                killed = true;
                child.kill("SIGKILL");
            }
        }, options.pollMs ?? 20);
        child.on("exit", (code) => {
            clearInterval(timer);
            resolve({killed, code});
        });
    });
}
