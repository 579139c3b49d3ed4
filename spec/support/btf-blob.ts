// A raw BTF blob for specs that build types by hand: the 24-byte header (magic 0xeb9f, version 1,
// type section first, strings after it) in front of the given type and string sections.
export function btfBlob(types: Buffer, strings: Buffer): Buffer {
  const hdr = Buffer.alloc(24);
  hdr.writeUInt16LE(0xeb9f, 0);
  hdr[2] = 1;
  hdr.writeUInt32LE(24, 4); // hdr_len
  hdr.writeUInt32LE(0, 8); // type_off
  hdr.writeUInt32LE(types.length, 12);
  hdr.writeUInt32LE(types.length, 16); // str_off
  hdr.writeUInt32LE(strings.length, 20);
  return Buffer.concat([hdr, types, strings]);
}
