/**
 * @module ftp/data-wiring
 * Owns the FTP frontend's data-channel manager from the config: this replica's slice of the
 * passive range (so the balancer can route a slice's ports to the one replica that
 * announced them), the advertised passive address, PROXY on data connections, and the
 * defender told of refused data connections.
 */
import { computePassiveSlice } from '../core/passive-slices.js';
import { NetDataConnector } from '../data/data-connector.js';
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
    logger,
  });
  metrics.observePassivePorts(() => data.portsLeased, () => data.portsBound);
  return data;
}
