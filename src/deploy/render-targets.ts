/**
 * @module deploy/render-targets
 * The registry of `kftpd render` targets, by name. Adding a target is adding a line here.
 */
import type { RenderTarget } from './render-target.js';

export const RENDER_TARGETS: Readonly<Record<string, RenderTarget>> = Object.freeze({});
