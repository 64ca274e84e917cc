// Types of llama-source.mjs for the TypeScript tests that import it.
export declare const projectRoot: string;
/** Folder of an installed npm package, searched the way Node does. */
export declare function packageDir(name: string): string;
export declare function nodeLlamaCppDir(): string;
/** The llama.cpp release tag node-llama-cpp pins (llama/llama.cpp.info.json). */
export declare function llamaCppTag(): string;
/** Folder holding the unpacked llama.cpp source of the pinned tag (unpacked on first call). */
export declare function llamaSourceDir(): string;
