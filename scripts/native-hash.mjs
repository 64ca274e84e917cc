// A fingerprint of the addon's C++ sources (native/*.cpp|h and CMakeLists.txt). Each build records it
// in its icon2-build.json and the loader compares it with the sources beside it, so an addon built
// from older sources (an upgrade or an edit without a rebuild) is never loaded by newer TypeScript.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

export function nativeSourceHash(root) {
    const nativeFiles = fs.readdirSync(path.join(root, "native")).filter((f) => /\.(cpp|h)$/.test(f)).sort();
    const hash = crypto.createHash("sha256");
    for (const file of ["CMakeLists.txt", ...nativeFiles.map((f) => `native/${f}`)]) {
        hash.update(`${file}\0`);
        hash.update(fs.readFileSync(path.join(root, file)));
        hash.update("\0");
    }
    return hash.digest("hex").slice(0, 16);
}
