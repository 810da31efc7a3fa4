/**
 * The globals defined by reftrack's script-tag build (`dist/reftrack.js`, contract §4, §4a, §5).
 * Reference this file (`/// <reference path="reftrack.d.ts" />`) in a page's TypeScript.
 */
import type { ReftrackApi, ReftrackOptions, SignupResult } from './types';

/** PartnerStack-compatible global. */
export interface Growsumo {
  /** What PartnerStack's snippet calls on load. */
  _initialize(publicKey: string, options?: ReftrackOptions): void;
  /** The attribution, and the page's fields for the next signup. */
  data: {
    partner_key: string | null;
    ps_partner_key: string | null;
    ps_xid: string | null;
    name?: string | null;
    email?: string | null;
    customer_key?: string | number | null;
    /** The site server's signature of the customer key: hex(HMAC-SHA256(secret, customer_key)). */
    customer_hash?: string | null;
  };
  /** Sends a signup built from `data`; the callback is called once with the result. */
  createSignup(callback?: (result: SignupResult) => void): Promise<SignupResult>;
}

/** Partnero-compatible command function. */
export interface Po {
  (command: 'settings', name: string, value: unknown): void;
  (command: 'program', programId: string, action: 'load'): void;
  (
    command: 'customers',
    action: 'signup',
    payload: {
      data: { key: string; name?: string; email?: string; customer_hash?: string; partner?: { key: string } };
    },
  ): Promise<SignupResult>;
  (command: 'integration', name: 'universal', options: null): void;
}

declare global {
  interface Window {
    reftrack: ReftrackApi & { version: string };
    growsumo: Growsumo;
    po: Po;
    reftrackConfig?: ReftrackOptions;
    growsumoInit?: () => void;
  }
}
