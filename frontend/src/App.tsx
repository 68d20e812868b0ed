import { Controls } from './views/Controls';
import { Header } from './views/Header';
import { Workspace } from './views/Workspace';

/** The page: header, prompt and tokens, then the workspace (grid, tab areas, side panels). */
export function App() {
  return (
    <div className="app">
      <Header />
      <Controls />
      <Workspace />
    </div>
  );
}
