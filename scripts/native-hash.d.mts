// Types of native-hash.mjs for the TypeScript that imports it.
/** sha256 (16 hex digits) over CMakeLists.txt and native/*.cpp|h under `root`. */
export declare function nativeSourceHash(root: string): string;
