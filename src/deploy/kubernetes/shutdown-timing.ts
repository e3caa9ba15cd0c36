/**
 * @module deploy/kubernetes/shutdown-timing
 * How long a pod is given to stop, derived from the server's own drain settings so the
 * kubelet never SIGKILLs a replica that is still finishing transfers. Pure.
 *
 * The sequence when a pod is deleted (rolling update, drain, scale-down):
 *   1. The pod is marked terminating: the EndpointSlice controller drops it from the control
 *      Service, and kube-proxy and F5 CIS (pool members) follow, each some seconds later.
 *   2. preStop sleeps PRE_STOP_SLEEP_SECONDS, during which the server still accepts normally,
 *      so connections routed by not-yet-updated proxies are served, not refused.
 *   3. SIGTERM: /readyz fails at once, listeners keep accepting for shutdown.readinessDelayMs
 *      (for balancers that watch /readyz with a monitor rather than endpoints).
 *   4. Listeners close, idle sessions get 421, running transfers get up to
 *      shutdown.drainTimeoutMs.
 *   5. The process exits; terminationGracePeriodSeconds (counted from step 2: it includes the
 *      preStop hook) must not run out before that.
 */
import type { Config } from '../../config/schema.js';

/** Long enough for endpoint removal to reach kube-proxy and CIS/BIG-IP in a healthy cluster. */
export const PRE_STOP_SLEEP_SECONDS = 5;

/**
 * Headroom after the drain deadline: sending 421 to the last sessions, closing sockets,
 * flushing logs and the process exit, plus kubelet scheduling jitter.
 */
export const TERMINATION_MARGIN_SECONDS = 10;

/** preStop sleep + readinessDelayMs + drainTimeoutMs (each rounded up to seconds) + margin. */
export function terminationGracePeriodSeconds(config: Config): number {
  const { readinessDelayMs, drainTimeoutMs } = config.shutdown;
  return PRE_STOP_SLEEP_SECONDS + Math.ceil(readinessDelayMs / 1000) + Math.ceil(drainTimeoutMs / 1000) + TERMINATION_MARGIN_SECONDS;
}
