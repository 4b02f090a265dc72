// What an environment runs for one model (a pin), and the history of an environment's pins.
// Declared once here: config, gates, planners, audit and the git adapter all speak of the same pin.

/** A canary beside the stable version: its version and the share of traffic it gets (percent). */
export interface CanaryPin {
  version: string;
  traffic: number;
  /** an A/B test: the split is held for the designed horizon and concluded by the A/B test (gates/ab.ts), not by canary steps */
  ab?: true;
}

/** A shadow: gets a mirrored copy of the traffic, answers nobody. */
export interface ShadowPin {
  version: string;
}

/** What an environment runs for one model: the stable version, and optionally a canary or a shadow. */
export interface Pin {
  version: string;
  canary?: CanaryPin;
  shadow?: ShadowPin;
}

/** A pin before or after a change; no version = the model is not deployed there (yet, or any more). */
export type PinState = Omit<Pin, 'version'> & { version?: string };

/** One commit of an environment file's history, with the pins the file held after it. */
export interface PinCommit {
  commit: string;
  /** committer time: when the change landed on the branch (author time survives rebases) */
  at: Date;
  subject: string;
  /** `Key: value` trailers (Modelship-Version, Co-authored-by, ...); a key may repeat */
  trailers: Record<string, string[]>;
  /** the file's pins after this commit, {} when the commit deleted it; undefined when it could not be read */
  pins?: Record<string, Pin>;
  /** why the file or part of it was not read */
  note?: string;
}
