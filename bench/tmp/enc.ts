import { captureProgram } from "../../tooling/capture";
import { engineStruct as toStruct, engineProperties } from "../../tooling/engineWire";
(async () => {
  const plan = await captureProgram({ stack: "prod" });
  for (let round = 0; round < 3; round++) {
    let t = performance.now(); let bytes = 0;
    for (const r of plan.resources) { const s = toStruct(r.type, r.inputs); bytes += s.serializeBinary().length; }
    const a = performance.now() - t;
    t = performance.now();
    for (const r of plan.resources) { toStruct(r.type, r.outputs ?? r.inputs); }
    console.log(`round ${round}: inputs struct+serialize ${a.toFixed(1)} ms (${bytes} bytes), outputs struct ${(performance.now() - t).toFixed(1)} ms`);
  }
})();
(async () => {
  const plan = await captureProgram({ stack: "prod" });
  for (let round = 0; round < 3; round++) {
    let t = performance.now();
    const props = plan.resources.map((r) => engineProperties(r.type, r.inputs));
    const a = performance.now() - t; t = performance.now();
    let n = 0; for (const p of props) n += JSON.stringify(p).length;
    console.log(`round ${round}: engineProperties ${a.toFixed(1)} ms, JSON.stringify ${(performance.now() - t).toFixed(1)} ms (${n} chars)`);
  }
})();
