/**
 * @module ftp/data-wiring
 * Owns the FTP frontend's data-channel manager from the config: this replica's slice of the
 * passive range (so the balancer can route a slice's ports to the one replica that
 * announced them), the advertised passive address, PROXY on data connections, and the
 * defender told of refused data connections, and the native upload receiver (one per process,
 * so storage.nativeUploads bounds its threads whatever the number of FTP listeners).
 */
import { computePassiveSlice } from '../core/passive-slices.js';
import { NetDataConnector } from '../data/data-connector.js';
import { loadNativeReceive, NativeReceiver } from '../data/native-receive.js';
import { PassiveAddressResolver } from '../data/passive-address.js';
import { PassivePortPool } from '../data/passive-port-pool.js';
import type { ServerRuntime } from '../runtime/server-runtime.js';

export interface PassiveSlice {
  readonly index: number;
  readonly min: number;
  readonly max: number;
}

export function passiveSliceOf(runtime: ServerRuntime): PassiveSlice {
  const { passive } = runtime.config;
  const index = runtime.replicaIndex;
  return { index, ...computePassiveSlice({ portMin: passive.portMin, portMax: passive.portMax, replicas: passive.replicas, index }) };
}

const receivers = new WeakMap<ServerRuntime, NativeReceiver | null>();

/** The process's native upload receiver, or null (turned off, or the module was not built). */
function nativeReceiverOf(runtime: ServerRuntime): NativeReceiver | null {
  const known = receivers.get(runtime);
  if (known !== undefined) return known;
  const threads = runtime.config.storage.nativeUploads;
  const binding = threads > 0 ? loadNativeReceive() : null;
  if (threads > 0 && !binding) {
    runtime.logger.warn(
      { event: 'data.native-receiver-missing' },
      'the native upload receiver is not built (no C compiler when npm installed kftpd): plain FTP uploads run, at about 0.6x of its rate; reinstall with cc (gcc) present',
    );
  }
  const receiver = binding ? new NativeReceiver(binding, threads) : null;
  if (receiver) runtime.logger.info({ event: 'data.native-receiver', threads }, 'plain FTP uploads are received by the native receiver');
  receivers.set(runtime, receiver);
  return receiver;
}

export function createDataConnector(runtime: ServerRuntime, slice: PassiveSlice): NetDataConnector {
  const { config, logger, metrics } = runtime;
  const { passive } = config;
  const data = new NetDataConnector({
    pool: new PassivePortPool({ min: slice.min, max: slice.max }),
    resolver: new PassiveAddressResolver(
      { address: passive.address, overrides: passive.overrides, useDestination: passive.useDestination, dnsCacheMs: passive.dnsCacheMs, portOffset: passive.portOffset },
      { onError: (error, host) => logger.warn({ event: 'passive.dns-error', host, err: error }, 'passive address lookup failed') },
    ),
    acceptTimeoutMs: passive.acceptTimeoutMs,
    requireSameAddress: passive.requireSameAddress,
    shareByClientAddress: passive.shareByClientAddress,
    connectTimeoutMs: config.active.connectTimeoutMs,
    proxy: { mode: config.proxy.passive, trusted: runtime.trustedProxies, timeoutMs: config.proxy.headerTimeoutMs },
    onProxyError: (reason, peer) => {
      metrics.proxyErrors.inc({ listener: 'passive', reason });
      runtime.score(peer, 'proxy-refused');
    },
    onForeignPeer: (peer) => runtime.score(peer, 'data-refused'),
    listenerIdleMs: passive.listenerIdleMs,
    receiver: nativeReceiverOf(runtime),
    logger,
  });
  metrics.observePassivePorts(() => data.portsLeased, () => data.portsBound);
  return data;
}
