import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { structBytes } from "../../tooling/structWire";
for (const v of [{ a: 1 }, { a: "x" }, { a: null }, { a: true }, { a: [1] }, { a: {} }]) {
  console.log(JSON.stringify(v), Buffer.from(structBytes(v as any)).toString("hex"), Buffer.from(Struct.fromJavaScript(v as any).serializeBinary()).toString("hex"));
}
