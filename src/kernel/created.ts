// Test support: one listener told of every fd bpfunit gets for a new kernel object (program, map,
// BTF), as soon as it has it, so hygiene specs can check object by object that a run leaves none
// behind. Nobody listens outside those specs.
let listener: ((fd: number) => void) | undefined;

/** Installs the listener (undefined removes it); returns the one it replaces. */
export function onObjectCreated(l: ((fd: number) => void) | undefined): ((fd: number) => void) | undefined {
  const previous = listener;
  listener = l;
  return previous;
}

export function objectCreated(fd: number): void {
  listener?.(fd);
}
