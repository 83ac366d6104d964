import { Struct } from "google-protobuf/google/protobuf/struct_pb";
const s = Struct.fromJavaScript({ b: 1, a: 2, c: { z: 1, y: 2 }, 10: 1, 2: 2 } as any);
console.log(JSON.stringify(Struct.deserializeBinary(s.serializeBinary()).toJavaScript()));
const m = s.getFieldsMap(); console.log((m as any).stringKeys_?.toString().slice(0,300));
