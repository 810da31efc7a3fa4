/**
 * reftrack: partner/affiliate referral tracking, compiled from Rust to WebAssembly.
 *
 * ```js
 * import { init, partnerKey, signup } from 'reftrack';
 * await init({ publicKey: 'pk_live_123' });   // loads the module, then attributes the visit
 * partnerKey();                                // "alex-smith" or null
 * await signup({ customer_key: 'cus_42', email: 'jane@example.com' });
 * ```
 */
import type { ReftrackOptions, SignupInput, SignupResult } from './types';
export type { ReftrackOptions, SignupInput, SignupResult, ReftrackApi } from './types';

/**
 * Loads the WebAssembly module (once), applies `options` and attributes the visit. This is the
 * whole set-up. Never rejects: if the module cannot load (missing file, CSP without
 * `'wasm-unsafe-eval'`), it warns once and every later call reports `status: "error"`.
 * @param module Where `reftrack_bg.wasm` is, when your bundler does not place it next to the
 *   module: a URL, a `Response`, bytes or a compiled `WebAssembly.Module`.
 */
export function init(
  options?: ReftrackOptions,
  module?: string | URL | Request | Response | BufferSource | WebAssembly.Module,
): Promise<void>;
/** The attributed partner key, or `null` (also before `init` has finished). */
export function partnerKey(): string | null;
/** The click id (xid) that came with the partner's link, or `null`. */
export function clickId(): string | null;
/** Sends a signup attributed to the current partner; waits for `init` if needed. Never rejects. */
export function signup(input: SignupInput): Promise<SignupResult>;
/** Turns on form auto-capture for forms matching `selector` (default: forms with an email field). */
export function captureForms(selector?: string): void;
/** `true`: write the held partner key and send waiting signups; `false`: delete cookies and queue. */
export function consent(granted: boolean): void;
/** Tries the retry queue now. */
export function flush(): Promise<void>;
