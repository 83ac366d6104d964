import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { structBytes } from "../../tooling/structWire";
const cases: any[] = [{ n: 0 }, { n: -0 }, { n: 0.1 }, { n: 1e308 }, { n: 5e-324 }, { n: NaN }, { n: Infinity }, { n: 2 ** 64 }, { s: "ü" }, { s: "😀" }, { "": "" }, { b: false }, { k: "\u0000" }];
for (const v of cases) {
  const a = Buffer.from(structBytes(v)).toString("hex"), b = Buffer.from(Struct.fromJavaScript(v).serializeBinary()).toString("hex");
  if (a !== b) console.log("DIFF", v, a, b);
}
