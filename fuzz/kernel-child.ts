// The child process of the kernel-stage fuzzer (see kernel.ts).
import { kernelChildMain } from './kernel';

kernelChildMain();
