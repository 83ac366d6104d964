import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { structBytes } from "../../tooling/structWire";
import { captureProgram } from "../../tooling/capture";
import { engineProperties } from "../../tooling/engineWire";
(async () => {
  const plan = await captureProgram({ stack: "prod" });
  let shown = 0;
  for (const r of plan.resources) {
    const p = engineProperties(r.type, r.inputs);
    for (const k of Object.keys(p)) {
      const v = { [k]: p[k] };
      const a = Buffer.from(structBytes(v)).toString("hex"), b = Buffer.from(Struct.fromJavaScript(v as any).serializeBinary()).toString("hex");
      if (a !== b && shown++ < 3) { console.log(r.urn, k, JSON.stringify(p[k]).slice(0, 200)); let i = 0; while (a[i] === b[i]) i++; console.log(i, a.slice(i - 20, i + 40), b.slice(i - 20, i + 40)); }
    }
  }
})();
