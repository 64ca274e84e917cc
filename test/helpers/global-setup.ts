// vitest globalSetup: build the tiny random-weight models once, before any worker starts, so test
// files never race to build them (tinyModel() is still safe if they do).
import {tinyModel} from "./tiny-models.js";

export default async function setup(): Promise<void> {
    await Promise.all([tinyModel("qwen2"), tinyModel("llama3")]);
}
