/**
 * @module deploy/kubernetes/api-limits
 * The Kubernetes API facts the manifest renderer designs around: the schema version the
 * rendered objects are validated against, the default node-port range, and the size limits
 * that decide how many passive ports one Service may carry. Constants only; no I/O.
 */

/**
 * The Kubernetes OpenAPI schema the rendered objects are checked against in the tests:
 * kubernetes-models 4.5.1 is generated from Kubernetes v1.33.0 (its CHANGELOG, 4.5.0: "Update
 * schema version to v1.33.0"; 4.5.1 only bumped a dependency — its README badge still says
 * 1.27.1, which is stale). The manifests themselves need Kubernetes >= 1.30 (see
 * MINIMUM_KUBERNETES_VERSION).
 */
export const KUBERNETES_SCHEMA_VERSION = '1.33.0';

/**
 * The oldest Kubernetes the rendered manifests work on: lifecycle.preStop.sleep (the image is
 * distroless, so an exec `sleep` is impossible) is beta and on by default from 1.30
 * (PodLifecycleSleepAction); NetworkPolicy endPort (the passive range as one rule) is GA since 1.25.
 */
export const MINIMUM_KUBERNETES_VERSION = '1.30';

/** kube-apiserver's default --service-node-port-range. */
export const DEFAULT_NODE_PORT_RANGE = Object.freeze({ min: 30000, max: 32767 });

/**
 * Most ports one EndpointSlice may hold (pkg/apis/discovery/validation: maxPorts). It was
 * 100 until kubernetes/kubernetes#99795 (1.21, back-ported to 1.18-1.20 patch releases)
 * raised it to 20,000 because the EndpointSlice controller never splits a Service's ports
 * across slices (kubernetes/kubernetes#99382): a Service with more ports than this gets no
 * endpoints at all. The API reference still says "a maximum of 100 ports", and the OpenAPI
 * schema carries no maxItems, so no client-side validator catches it.
 */
export const ENDPOINT_SLICE_MAX_PORTS = 20_000;

/**
 * Total size of an object's annotations (apimachinery TotalAnnotationSizeLimitB, 256 KiB).
 * Client-side `kubectl apply` copies the whole object into the
 * kubectl.kubernetes.io/last-applied-configuration annotation, so an object whose JSON is
 * larger than this cannot be applied that way (server-side apply has no such copy).
 */
export const ANNOTATIONS_MAX_BYTES = 256 * 1024;

/** Port names (Service and container) are IANA service names: at most 15 characters. */
export const PORT_NAME_MAX_LENGTH = 15;
