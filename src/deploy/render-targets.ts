/**
 * @module deploy/render-targets
 * The registry of `kftpd render` targets, by name. Adding a target is adding a line here.
 */
import { F5_AS3_TARGET, F5_CIS_TARGET } from './f5/render-f5.js';
import { kubernetesTarget } from './kubernetes/render-kubernetes.js';
import type { RenderTarget } from './render-target.js';

export const RENDER_TARGETS: Readonly<Record<string, RenderTarget>> = Object.freeze({
  kubernetes: kubernetesTarget,
  'f5-as3': F5_AS3_TARGET,
  'f5-cis': F5_CIS_TARGET,
});
