import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import './app.css';
import './views/features/features.css';
import { connect } from './state/actions';
import { followAddress } from './state/address';
import { TABS } from './views/tabs';

followAddress(TABS.map((t) => t.id));
connect();

createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
