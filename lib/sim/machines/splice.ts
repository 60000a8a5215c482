import type { Socket } from 'node:net';

/** Joins two connections both ways; either side failing or closing ends both. */
export function splice(inbound: Socket, outbound: Socket): void {
  inbound.pipe(outbound).pipe(inbound);
  const close = () => {
    inbound.destroy();
    outbound.destroy();
  };
  inbound.on('error', close);
  outbound.on('error', close);
}
