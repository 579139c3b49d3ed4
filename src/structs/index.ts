// Typed codecs for the structs bpfunit exchanges with programs: uAPI contexts, Kmesh map
// keys/values and records, Kmesh's TLV, and address/port helpers.
export * from './layout';
export * from './uapi';
export * from './kmesh';
export * from './tlv';
