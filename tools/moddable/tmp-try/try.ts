import { sdk, startDisplay, runApp } from "../sim.js";
const s = sdk() as any;
const d = await startDisplay();
const app = await runApp(s, { app: "x", dir: "", so: process.argv[2], log: "" }, d, (e) => console.log("EV", e.kind, e.machine, e.text));
await new Promise(r => setTimeout(r, Number(process.argv[3] ?? 8000)));
console.log("out:", app.output());
await app.stop(); d.stop();
