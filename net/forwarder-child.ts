/**
 * The port forwarder's process inside the container's network namespace (started by
 * net/forwarder.ts through nsenter, with a Node IPC channel). The parent hands it the host
 * sockets it bound in the host's namespace; a socket keeps the namespace it was made in, so this
 * process accepts host connections while its own connections to 127.0.0.1:PORT reach the
 * container. It copies bytes both ways and exits when the channel to its parent closes.
 */
import { connect, type Server, type Socket } from 'node:net';
import type { RemoteInfo, Socket as UdpSocket } from 'node:dgram';
import { createSocket } from 'node:dgram';

export interface ForwardMessage {
  type: 'forward';
  protocol: 'tcp' | 'udp';
  containerPort: number;
  /** Where inside the namespace to connect; 127.0.0.1, as rootlesskit's builtin driver does. */
  target: string;
}

/** How long a UDP client's flow stays open without traffic (as conntrack keeps UDP flows). */
const udpIdleMs = 60_000;

function forwardTcp(server: Server, message: ForwardMessage): void {
  server.removeAllListeners('connection');
  server.on('connection', (client: Socket) => {
    const inner = connect({ host: message.target, port: message.containerPort });
    client.setNoDelay(true);
    inner.setNoDelay(true);
    client.pipe(inner);
    inner.pipe(client);
    // pipe() carries each side's end (FIN) to the other and lets buffered bytes drain; only a
    // failure (a reset, or the container refusing) tears the other side down at once.
    client.on('error', () => inner.destroy());
    inner.on('error', () => client.destroy());
    client.on('close', (hadError) => hadError && inner.destroy());
    inner.on('close', (hadError) => hadError && client.destroy());
  });
}

function forwardUdp(socket: UdpSocket, message: ForwardMessage): void {
  const flows = new Map<string, { inner: UdpSocket; timer?: NodeJS.Timeout }>();
  socket.on('message', (data: Buffer, peer: RemoteInfo) => {
    const key = `${peer.address}|${peer.port}`;
    let flow = flows.get(key);
    if (flow === undefined) {
      const inner = createSocket(message.target.includes(':') ? 'udp6' : 'udp4');
      inner.connect(message.containerPort, message.target);
      inner.on('message', (reply: Buffer) => socket.send(reply, peer.port, peer.address));
      inner.on('error', () => undefined); // ICMP refusals while nothing listens yet
      flow = { inner };
      flows.set(key, flow);
    }
    const current = flow;
    clearTimeout(current.timer);
    current.timer = setTimeout(() => {
      flows.delete(key);
      current.inner.close();
    }, udpIdleMs);
    current.timer.unref();
    if (connected(current.inner)) current.inner.send(data);
    else current.inner.once('connect', () => current.inner.send(data));
  });
}

function connected(socket: UdpSocket): boolean {
  try {
    socket.remoteAddress();
    return true;
  } catch {
    return false;
  }
}

function main(): void {
  if (process.send === undefined) {
    process.stderr.write('hutch forwarder: must be started by hutch with an IPC channel\n');
    process.exit(2);
  }
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: ForwardMessage, handle: Server | UdpSocket | undefined) => {
    if (message.type !== 'forward' || handle === undefined) return;
    if (message.protocol === 'tcp') forwardTcp(handle as Server, message);
    else forwardUdp(handle as UdpSocket, message);
    process.send!({ type: 'forwarding', containerPort: message.containerPort, protocol: message.protocol });
  });
  process.send({ type: 'ready' });
}

main();
