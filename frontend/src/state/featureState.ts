/** The features panel's slice of the store: attached SAEs, the open card, searches, labels. */
import type { FeatureMode, SaeInfo, SearchBy } from '../api/wire';
import type { FeatureInfo, FeatureRef, SearchRecord } from './features';

export type FeaturesTab = 'token' | 'search' | 'card';

export interface FeatureState {
  /** SAEs the server has attached; null until `features.list` answered. */
  saes: SaeInfo[] | null;
  /** The SAE the runs ask features of (null: none attached). */
  sae: string | null;
  /** Features per token asked of each run. */
  k: number;
  tab: FeaturesTab;
  /** The feature whose card is open. */
  card: FeatureRef | null;
  /** Dashboards fetched so far, by "sae:index". */
  info: Record<string, FeatureInfo>;
  /** Short labels by "sae:index" (from dashboards and search results). */
  labels: Record<string, string>;
  /** Which dashboard is being fetched ("sae:index"), for the spinner. */
  loading: string | null;
  /** Features always shown in the heat strip. */
  pinned: number[];
  searchBy: SearchBy | 'contrast';
  query: string;
  contrastA: string;
  contrastB: string;
  searching: boolean;
  /** The last search's results; earlier ones stay in `searches` for the export. */
  search: SearchRecord | null;
  searches: SearchRecord[];
  steerMode: FeatureMode;
  /** Whether the open card lives in the page's URL (`?feature=SAE:INDEX`); off in the notebook widget. */
  urlLink: boolean;
}

export const initialFeatures: FeatureState = {
  saes: null, sae: null, k: 16, tab: 'token', card: null, info: {}, labels: {}, loading: null, pinned: [],
  searchBy: 'token', query: ' Paris', contrastA: 'I love this film\nWhat a wonderful day', contrastB: 'I hate this film\nWhat an awful day',
  searching: false, search: null, searches: [], steerMode: 'add', urlLink: true,
};
