// Judge two responses with the model itself (run `npm run build:ts` first). stories260K is a base
// model, so its `plain` template makes `createJudge` pick the likelihood judge.
import {builtinChatTemplate} from "../dist/chat.js";
import {Model} from "../dist/engine/index.js";
import {createJudge} from "../dist/judge.js";

const model = await Model.load("../shared/models/stories260K.gguf");
const template = builtinChatTemplate("plain", {bosToken: model.tokenText(model.info.bos), eosToken: model.tokenText(model.info.eos)});
const judge = await createJudge(model, template, {threads: 1});

const story = "Once upon a time, there was a little girl named Lily. She loved to play outside.";
const shuffled = "girl outside. time, Lily. a named upon to there little She Once play loved was a";
const p = await judge.compare([
    {instruction: "Write a story.", first: story, second: shuffled},
    {instruction: "Write a story.", first: shuffled, second: story}
]);
console.log(judge.describe().method, "P(first better):", p.map((x) => x.toFixed(4)).join(", "));
const [s1, s2] = await judge.score([story, shuffled].map((response) => ({instruction: "Write a story.", response})));
console.log("mean log-likelihood per token:", s1.toFixed(2), s2.toFixed(2));

await judge.dispose();
await model.dispose();
