/** Options of reftrack (contract §2). Every option is optional; a bad value is warned about and ignored. */
export interface ReftrackOptions {
  /** The program's public key (`pk_...`), sent with every signup. */
  publicKey?: string;
  /** Where signups are POSTed: an absolute URL or a path. Default: `/v1/signups` on the script's origin. */
  endpoint?: string;
  /** Cookie lifetime in days, 1–400. Default 90. */
  cookieDays?: number;
  /** An explicit `Domain` for the cookies; by default the broadest domain the browser accepts. */
  cookieDomain?: string;
  /** `"last"` (default): a new partner link replaces the stored partner. `"first"`: the stored one is kept. */
  attribution?: 'last' | 'first';
  /** Query parameters holding a base64 partner key. Default `["ps_partner_key", "gspk"]`. */
  partnerParams?: string[];
  /** Query parameters holding a plain partner key. Default `[]` (Partnero mode adds `"aff"`). */
  rawPartnerParams?: string[];
  /** Query parameters holding the click id. Default `["ps_xid", "gsxid"]`. */
  clickParams?: string[];
  /** `"pending"`: nothing is written or sent until `consent(true)`. Default `"granted"`. */
  consent?: 'granted' | 'pending';
  /** Form auto-capture: `true` (forms with an email field) or a CSS selector. Default off. */
  autoCapture?: boolean | string;
  /** Send signups that have no partner key. Default `false`. */
  sendUnattributed?: boolean;
  /** Log each decision to the console with a `[reftrack]` prefix. Default `false`. */
  debug?: boolean;
  /** Treat `navigator.globalPrivacyControl` as a refusal of consent. Default `false`. */
  respectGpc?: boolean;
}

/** What a signup carries from the page. `customer_key` falls back to `email`. */
export interface SignupInput {
  /** The site's identifier of the new customer. */
  customer_key?: string | number;
  /** The customer's email address. */
  email?: string;
  /** The customer's name. */
  name?: string;
  /** The site server's signature of the customer key: hex(HMAC-SHA256(secret, customer_key)). */
  customer_hash?: string;
  /** Partner sub ids (at most 20). */
  sub_ids?: string[];
  /** Flat metadata (at most 20 entries). */
  meta?: Record<string, string | number | boolean | null>;
}

/** How a signup ended (contract §4). `ok` is true when it is stored or safely queued. */
export interface SignupResult {
  ok: boolean;
  /**
   * `created`/`duplicate`: stored by the endpoint; `queued`: waiting in the retry queue;
   * `skipped`: no partner key (and `sendUnattributed` off); `rejected`: bad input or a `4xx`;
   * `error`: reftrack could not run.
   */
  status: 'created' | 'duplicate' | 'queued' | 'skipped' | 'rejected' | 'error';
  /** The signup's UUID, sent unchanged on every retry; `null` when none was made. */
  event_id: string | null;
  /** Why, when the signup was not stored. */
  error?: string;
}

/** The native API (contract §4a): `window.reftrack`, and the npm package's exports. */
export interface ReftrackApi {
  /** Applies options (merged with earlier ones) and runs attribution. */
  init(options?: ReftrackOptions): Promise<void>;
  /** The attributed partner key, or `null`. */
  partnerKey(): string | null;
  /** The click id (xid) that came with the partner's link, or `null`. */
  clickId(): string | null;
  /** Sends a signup attributed to the current partner. Never rejects. */
  signup(input: SignupInput): Promise<SignupResult>;
  /** Turns on form auto-capture for forms matching `selector` (default: forms with an email field). */
  captureForms(selector?: string): void;
  /** `true`: write the held partner key and send waiting signups; `false`: delete cookies and queue. */
  consent(granted: boolean): void;
  /** Tries the retry queue now. */
  flush(): Promise<void>;
}
