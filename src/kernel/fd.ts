// A kernel object held by a file descriptor, closed at most once.
import { closeFd } from '../sys/bpf';
import { objectCreated } from './created';

export abstract class FdHandle {
  private open = true;

  constructor(readonly fd: number) {
    objectCreated(fd);
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    closeFd(this.fd);
  }

  get closed(): boolean {
    return !this.open;
  }
}
