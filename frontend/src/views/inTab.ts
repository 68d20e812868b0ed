import { createContext } from 'react';

/** True inside a tab area: the tab names the panel, so the panel drops its own title. */
export const InTab = createContext(false);
